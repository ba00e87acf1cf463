package storage

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	apiproxy "k8s.io/apiserver/pkg/util/proxy"
)

// NodeProxyREST serves nodes/proxy: HTTP to the node's kubelet, or to
// another port of the node.
type NodeProxyREST struct {
	Kubelet ConnectionInfoGetter
	// Transport reaches node ports other than the kubelet's.
	Transport http.RoundTripper
}

var _ rest.Connecter = &NodeProxyREST{}

func (r *NodeProxyREST) New() runtime.Object      { return &corev1.NodeProxyOptions{} }
func (r *NodeProxyREST) Destroy()                 {}
func (r *NodeProxyREST) ConnectMethods() []string { return proxyMethods }
func (r *NodeProxyREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.NodeProxyOptions{}, true, "path"
}

func (r *NodeProxyREST) Connect(ctx context.Context, id string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	proxyOpts, ok := opts.(*corev1.NodeProxyOptions)
	if !ok {
		return nil, fmt.Errorf("Invalid options object: %#v", opts)
	}
	location, transport, err := r.location(ctx, id)
	if err != nil {
		return nil, err
	}
	location.Path = utilnet.JoinPreservingTrailingSlash(location.Path, proxyOpts.Path)
	return upgradeAwareHandler(location, transport, true, false, responder), nil
}

// location resolves "node", "node:port" or "scheme:node:port". The kubelet's
// own port gets the kubelet client transport; any other port the plain one.
func (r *NodeProxyREST) location(ctx context.Context, id string) (*url.URL, http.RoundTripper, error) {
	scheme, name, port, valid := utilnet.SplitSchemeNamePort(id)
	if !valid {
		return nil, nil, errors.NewBadRequest(fmt.Sprintf("invalid node request %q", id))
	}
	info, err := r.Kubelet.GetConnectionInfo(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	if err := proxyableHostname(ctx, info.Hostname); err != nil {
		return nil, nil, errors.NewBadRequest(err.Error())
	}
	if port == "" || port == info.Port {
		return &url.URL{Scheme: info.Scheme, Host: net.JoinHostPort(info.Hostname, info.Port)}, info.Transport, nil
	}
	return &url.URL{Scheme: scheme, Host: net.JoinHostPort(info.Hostname, port)}, r.Transport, nil
}

// proxyableHostname refuses node addresses that resolve to loopback,
// link-local or other non-unicast addresses.
func proxyableHostname(ctx context.Context, hostname string) error {
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, hostname)
	if err != nil {
		return err
	}
	if len(addrs) == 0 {
		return fmt.Errorf("no addresses for hostname")
	}
	for _, a := range addrs {
		if !a.IP.IsGlobalUnicast() {
			return fmt.Errorf("address not allowed")
		}
	}
	return nil
}

// ServiceProxyREST serves services/proxy: HTTP to a ready endpoint of the
// service, picked at random.
type ServiceProxyREST struct {
	Services       rest.Getter
	Pods           rest.Getter
	EndpointSlices rest.Lister
	Transport      http.RoundTripper
}

var _ rest.Connecter = &ServiceProxyREST{}

func (r *ServiceProxyREST) New() runtime.Object      { return &corev1.ServiceProxyOptions{} }
func (r *ServiceProxyREST) Destroy()                 {}
func (r *ServiceProxyREST) ConnectMethods() []string { return proxyMethods }
func (r *ServiceProxyREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.ServiceProxyOptions{}, true, "path"
}

func (r *ServiceProxyREST) Connect(ctx context.Context, id string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	proxyOpts, ok := opts.(*corev1.ServiceProxyOptions)
	if !ok {
		return nil, fmt.Errorf("Invalid options object: %#v", opts)
	}
	location, err := r.location(ctx, id)
	if err != nil {
		return nil, err
	}
	location.Path = utilnet.JoinPreservingTrailingSlash(location.Path, proxyOpts.Path)
	return upgradeAwareHandler(location, r.Transport, true, false, responder), nil
}

// location resolves "svc", "svc:port" or "scheme:svc:port", where port is
// a port name or number of the service.
func (r *ServiceProxyREST) location(ctx context.Context, id string) (*url.URL, error) {
	scheme, name, port, valid := utilnet.SplitSchemeNamePort(id)
	if !valid {
		return nil, errors.NewBadRequest(fmt.Sprintf("invalid service request %q", id))
	}
	if num, err := strconv.ParseInt(port, 10, 64); err == nil {
		obj, err := r.Services.Get(ctx, name, &metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		svc, ok := obj.(*corev1.Service)
		if !ok {
			return nil, fmt.Errorf("unexpected object of type %T for service %q", obj, name)
		}
		found := false
		for _, p := range svc.Spec.Ports {
			if int64(p.Port) == num {
				port, found = p.Name, true
				break
			}
		}
		if !found {
			return nil, errors.NewServiceUnavailable(fmt.Sprintf("no service port %d found for service %q", num, name))
		}
	}
	namespace := genericapirequest.NamespaceValue(ctx)
	if namespace == "" {
		return nil, errors.NewBadRequest("missing required namespace")
	}
	slices, err := r.slicesOf(ctx, name)
	if err != nil {
		return nil, errors.NewInternalError(err)
	}
	if len(slices) == 0 {
		return nil, errors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", name))
	}
	// skiff's service network is single-stack IPv4, so IPv4 slices come first.
	hostPort, err := apiproxy.RandomEndpoint(name, slices, port, corev1.IPv4Protocol, func(ep *discoveryv1.Endpoint) bool {
		if err := r.isPodEndpoint(ctx, ep); err != nil {
			utilruntime.HandleError(fmt.Errorf("endpoint %v isn't valid (%w)", ep, err))
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return &url.URL{Scheme: scheme, Host: hostPort}, nil
}

func (r *ServiceProxyREST) slicesOf(ctx context.Context, service string) ([]*discoveryv1.EndpointSlice, error) {
	selector := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: service})
	obj, err := r.EndpointSlices.List(ctx, &metainternalversion.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	list, ok := obj.(*discoveryv1.EndpointSliceList)
	if !ok {
		return nil, fmt.Errorf("unexpected list of type %T", obj)
	}
	out := make([]*discoveryv1.EndpointSlice, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

// isPodEndpoint admits only endpoints that are pods of the service's
// namespace currently holding the endpoint's address: the proxy must not
// reach arbitrary addresses someone wrote into an EndpointSlice.
func (r *ServiceProxyREST) isPodEndpoint(ctx context.Context, ep *discoveryv1.Endpoint) error {
	if ep.TargetRef == nil {
		return fmt.Errorf("endpoint has no target ref, skipping: %v", ep)
	}
	if genericapirequest.NamespaceValue(ctx) != ep.TargetRef.Namespace {
		return fmt.Errorf("endpoint namespace doesn't match context namespace")
	}
	p, err := getPod(ctx, r.Pods, ep.TargetRef.Name)
	if err != nil {
		return err
	}
	for _, ip := range p.Status.PodIPs {
		if ip.IP == ep.Addresses[0] {
			return nil
		}
	}
	return fmt.Errorf("pod ip(s) doesn't match endpoint ip, skipping: %v vs %s (%s/%s)", p.Status.PodIPs, ep.Addresses[0], ep.TargetRef.Namespace, ep.TargetRef.Name)
}
