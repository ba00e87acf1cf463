package storage

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apiserver/pkg/registry/rest"
	netutils "k8s.io/utils/net"

	"github.com/skiff-dev/skiff/registry/core/pod"
)

func getPod(ctx context.Context, getter rest.Getter, name string) (*corev1.Pod, error) {
	obj, err := getter.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, fmt.Errorf("unexpected object of type %T for pod %q", obj, name)
	}
	return p, nil
}

// containerFor returns the container a request names, or the pod's only
// container when it names none.
func containerFor(container string, p *corev1.Pod) (string, error) {
	if container != "" {
		if !pod.HasContainer(p, container) {
			return "", errors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", container, p.Name))
		}
		return container, nil
	}
	switch len(p.Spec.Containers) {
	case 1:
		return p.Spec.Containers[0].Name, nil
	case 0:
		return "", errors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", p.Name))
	default:
		return "", errors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %s", p.Name, pod.ContainerNames(p)))
	}
}

// logLocation returns the kubelet URL of a container's log. A pod not yet
// on a node has no log: the location is nil and the stream empty.
func logLocation(ctx context.Context, getter rest.Getter, conn ConnectionInfoGetter, name string, opts *corev1.PodLogOptions) (*url.URL, http.RoundTripper, error) {
	p, err := getPod(ctx, getter, name)
	if err != nil {
		return nil, nil, err
	}
	container, err := containerFor(opts.Container, p)
	if err != nil {
		return nil, nil, err
	}
	if p.Spec.NodeName == "" {
		return nil, nil, nil
	}
	info, err := conn.GetConnectionInfo(ctx, p.Spec.NodeName)
	if err != nil {
		return nil, nil, err
	}
	params := url.Values{}
	if opts.Follow {
		params.Add("follow", "true")
	}
	if opts.Previous {
		params.Add("previous", "true")
	}
	if opts.Timestamps {
		params.Add("timestamps", "true")
	}
	if opts.SinceSeconds != nil {
		params.Add("sinceSeconds", strconv.FormatInt(*opts.SinceSeconds, 10))
	}
	if opts.SinceTime != nil {
		params.Add("sinceTime", opts.SinceTime.Format(time.RFC3339))
	}
	if opts.TailLines != nil {
		params.Add("tailLines", strconv.FormatInt(*opts.TailLines, 10))
	}
	if opts.LimitBytes != nil {
		params.Add("limitBytes", strconv.FormatInt(*opts.LimitBytes, 10))
	}
	loc := &url.URL{
		Scheme:   info.Scheme,
		Host:     net.JoinHostPort(info.Hostname, info.Port),
		Path:     fmt.Sprintf("/containerLogs/%s/%s/%s", p.Namespace, p.Name, container),
		RawQuery: params.Encode(),
	}
	if opts.InsecureSkipTLSVerifyBackend {
		return loc, info.InsecureSkipTLSVerifyTransport, nil
	}
	return loc, info.Transport, nil
}

// streamParams encodes exec, attach and port-forward options as the
// kubelet's streaming server reads them.
func streamParams(opts any) url.Values {
	params := url.Values{}
	flags := func(stdin, stdout, stderr, tty bool) {
		for _, f := range []struct {
			set  bool
			name string
		}{{stdin, corev1.ExecStdinParam}, {stdout, corev1.ExecStdoutParam}, {stderr, corev1.ExecStderrParam}, {tty, corev1.ExecTTYParam}} {
			if f.set {
				params.Add(f.name, "1")
			}
		}
	}
	switch o := opts.(type) {
	case *corev1.PodExecOptions:
		flags(o.Stdin, o.Stdout, o.Stderr, o.TTY)
		for _, c := range o.Command {
			params.Add("command", c)
		}
	case *corev1.PodAttachOptions:
		flags(o.Stdin, o.Stdout, o.Stderr, o.TTY)
	case *corev1.PodPortForwardOptions:
		if len(o.Ports) > 0 {
			ports := make([]string, len(o.Ports))
			for i, p := range o.Ports {
				ports[i] = strconv.Itoa(int(p))
			}
			params.Add(corev1.PortHeader, strings.Join(ports, ","))
		}
	}
	return params
}

// streamLocation returns the kubelet URL for exec or attach (path) on a
// container of the named pod.
func streamLocation(ctx context.Context, getter rest.Getter, conn ConnectionInfoGetter, name string, opts any, container, path string) (*url.URL, *ConnectionInfo, error) {
	p, err := getPod(ctx, getter, name)
	if err != nil {
		return nil, nil, err
	}
	container, err = containerFor(container, p)
	if err != nil {
		return nil, nil, err
	}
	info, err := nodeConnection(ctx, conn, p, name)
	if err != nil {
		return nil, nil, err
	}
	return &url.URL{
		Scheme:   info.Scheme,
		Host:     net.JoinHostPort(info.Hostname, info.Port),
		Path:     fmt.Sprintf("/%s/%s/%s/%s", path, p.Namespace, p.Name, container),
		RawQuery: streamParams(opts).Encode(),
	}, info, nil
}

func portForwardLocation(ctx context.Context, getter rest.Getter, conn ConnectionInfoGetter, name string, opts *corev1.PodPortForwardOptions) (*url.URL, *ConnectionInfo, error) {
	p, err := getPod(ctx, getter, name)
	if err != nil {
		return nil, nil, err
	}
	info, err := nodeConnection(ctx, conn, p, name)
	if err != nil {
		return nil, nil, err
	}
	return &url.URL{
		Scheme:   info.Scheme,
		Host:     net.JoinHostPort(info.Hostname, info.Port),
		Path:     fmt.Sprintf("/portForward/%s/%s", p.Namespace, p.Name),
		RawQuery: streamParams(opts).Encode(),
	}, info, nil
}

func nodeConnection(ctx context.Context, conn ConnectionInfoGetter, p *corev1.Pod, name string) (*ConnectionInfo, error) {
	if p.Spec.NodeName == "" {
		return nil, errors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", name))
	}
	return conn.GetConnectionInfo(ctx, p.Spec.NodeName)
}

// podLocation returns the URL of a pod's IP for pods/proxy. The name may
// carry a scheme and port ("https:web:8443"); without a port the first
// declared container port is used.
func podLocation(ctx context.Context, getter rest.Getter, id string) (*url.URL, error) {
	scheme, name, port, valid := utilnet.SplitSchemeNamePort(id)
	if !valid {
		return nil, errors.NewBadRequest(fmt.Sprintf("invalid pod request %q", id))
	}
	p, err := getPod(ctx, getter, name)
	if err != nil {
		return nil, err
	}
	if port == "" {
		for _, c := range p.Spec.Containers {
			if len(c.Ports) > 0 {
				port = strconv.Itoa(int(c.Ports[0].ContainerPort))
				break
			}
		}
	}
	var podIP string
	if len(p.Status.PodIPs) > 0 {
		podIP = p.Status.PodIPs[0].IP
	}
	// Only unicast pod addresses: the API server must not become a way into
	// its own host's loopback or link-local services.
	if ip := netutils.ParseIPSloppy(podIP); ip == nil || !ip.IsGlobalUnicast() {
		return nil, errors.NewBadRequest("address not allowed")
	}
	loc := &url.URL{Scheme: scheme}
	if port == "" {
		loc.Host = podIP
		if strings.Contains(podIP, ":") {
			loc.Host = "[" + podIP + "]"
		}
	} else {
		loc.Host = net.JoinHostPort(podIP, port)
	}
	return loc, nil
}
