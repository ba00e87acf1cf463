// Package storage serves the pod subresources of Kubernetes 1.37 on top of
// skiff's generic pod store: status, binding (and the legacy bindings
// resource), eviction, ephemeralcontainers, resize, log, exec, attach,
// portforward and proxy, plus nodes/proxy and services/proxy, which reach
// the same kubelets and pods.
package storage

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	policyclient "k8s.io/client-go/kubernetes/typed/policy/v1"

	"github.com/skiff-dev/skiff/registry"
	"github.com/skiff-dev/skiff/registry/core/pod"
)

// Options are what the pod subresources need from the rest of the server.
type Options struct {
	// Kubelet says how to reach kubelets (logs, exec, attach, port-forward,
	// nodes/proxy).
	Kubelet KubeletClientConfig
	// PodDisruptionBudgets reads and updates budgets for evictions;
	// normally the server's loopback client (PolicyV1()).
	PodDisruptionBudgets policyclient.PodDisruptionBudgetsGetter
	// Authorizer re-checks the "create" verb for exec, attach and
	// port-forward requests that arrive as WebSocket GETs.
	Authorizer authorizer.UnconditionalAuthorizer
	// ProxyTransport carries pods/proxy and services/proxy traffic and
	// nodes/proxy traffic to ports other than the kubelet's. nil means a
	// transport that does not verify backend certificates, as
	// kube-apiserver's default.
	ProxyTransport http.RoundTripper
}

// Extra returns the registry hook that installs the pod subresources, the
// legacy bindings resource, nodes/proxy and services/proxy in core/v1.
func Extra(opts Options) registry.Extra {
	return func(stores map[string]*registry.Storage, add func(gv schema.GroupVersion, path string, storage rest.Storage)) error {
		need := func(name string) (*genericregistry.Store, error) {
			s, ok := stores[name]
			if !ok {
				return nil, fmt.Errorf("pod subresources: no storage for %s", name)
			}
			return s.Store, nil
		}
		pods, err := need("pods")
		if err != nil {
			return err
		}
		nodes, err := need("nodes")
		if err != nil {
			return err
		}
		services, err := need("services")
		if err != nil {
			return err
		}
		slices, err := need("endpointslices.discovery.k8s.io")
		if err != nil {
			return err
		}
		if opts.PodDisruptionBudgets == nil {
			return fmt.Errorf("pod subresources: no PodDisruptionBudgets client")
		}
		proxyTransport := opts.ProxyTransport
		if proxyTransport == nil {
			proxyTransport = defaultProxyTransport()
		}
		kubelet := NewConnectionInfoGetter(nodes, opts.Kubelet)

		statusStore := withUpdateStrategy(pods, pod.StatusStrategy)
		statusStore.ResetFieldsStrategy = pod.StatusStrategy
		binding := &BindingREST{store: pods}
		stream := streamREST{Pods: pods, Kubelet: kubelet, Authorizer: opts.Authorizer}

		v1 := schema.GroupVersion{Version: "v1"}
		for path, storage := range map[string]rest.Storage{
			"pods/status":              registry.NewStatusREST(statusStore),
			"pods/binding":             binding,
			"bindings":                 &LegacyBindingREST{binding: binding},
			"pods/eviction":            &EvictionREST{store: statusStore, pdbs: opts.PodDisruptionBudgets},
			"pods/ephemeralcontainers": &UpdateREST{store: withUpdateStrategy(pods, pod.EphemeralContainersStrategy)},
			"pods/resize":              &UpdateREST{store: withUpdateStrategy(pods, pod.ResizeStrategy)},
			"pods/log":                 &LogREST{Pods: pods, Kubelet: kubelet},
			"pods/exec":                &ExecREST{stream},
			"pods/attach":              &AttachREST{stream},
			"pods/portforward":         &PortForwardREST{stream},
			"pods/proxy":               &PodProxyREST{Pods: pods, Transport: proxyTransport},
			"nodes/proxy":              &NodeProxyREST{Kubelet: kubelet, Transport: proxyTransport},
			"services/proxy":           &ServiceProxyREST{Services: services, Pods: pods, EndpointSlices: slices, Transport: proxyTransport},
		} {
			add(v1, path, storage)
		}
		return nil
	}
}

// withUpdateStrategy returns a copy of the pod store that updates with s;
// subresources share the main store's storage and watch cache.
func withUpdateStrategy(pods *genericregistry.Store, s rest.RESTUpdateStrategy) *genericregistry.Store {
	store := *pods
	store.UpdateStrategy = s
	return &store
}

func defaultProxyTransport() http.RoundTripper {
	return utilnet.SetTransportDefaults(&http.Transport{
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		TLSHandshakeTimeout: 10 * time.Second,
	})
}

// UpdateREST serves a pod subresource that is a restricted update of the
// pod (ephemeralcontainers, resize): get, update and patch.
type UpdateREST struct {
	store *genericregistry.Store
}

var _ rest.Patcher = &UpdateREST{}

func (r *UpdateREST) New() runtime.Object { return r.store.New() }
func (r *UpdateREST) Destroy()            {}

func (r *UpdateREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

func (r *UpdateREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}
