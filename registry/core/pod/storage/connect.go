package storage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/filters"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericrest "k8s.io/apiserver/pkg/registry/generic/rest"
	"k8s.io/apiserver/pkg/registry/rest"
	translator "k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

var (
	// proxyMethods are the HTTP methods the proxy subresources pass on.
	proxyMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
	// upgradeMethods serve exec, attach and port-forward: POST for SPDY,
	// GET for WebSockets (browsers cannot upgrade a POST).
	upgradeMethods = []string{"GET", "POST"}
)

// extendWebSocketsToKubelet is the node feature a kubelet declares when it
// speaks the WebSocket streaming protocols itself; the API server then
// proxies the upgrade instead of translating it to SPDY.
const extendWebSocketsToKubelet = "ExtendWebSocketsToKubelet"

func upgradeAwareHandler(location *url.URL, transport http.RoundTripper, wrapTransport, upgradeRequired bool, responder rest.Responder) *proxy.UpgradeAwareHandler {
	return proxy.NewUpgradeAwareHandler(location, transport, wrapTransport, upgradeRequired, proxy.NewErrorResponder(responder))
}

// LogREST serves pods/log by streaming the kubelet's container log.
type LogREST struct {
	Pods    rest.Getter
	Kubelet ConnectionInfoGetter
}

var _ rest.GetterWithOptions = &LogREST{}

func (r *LogREST) New() runtime.Object { return &corev1.Pod{} }
func (r *LogREST) Destroy()            {}

// ProducesMIMETypes adds text/plain to the API description of pods/log.
func (r *LogREST) ProducesMIMETypes(verb string) []string { return []string{"text/plain"} }

// ProducesObject makes the API description say the log is a string.
func (r *LogREST) ProducesObject(verb string) any { return "" }

func (r *LogREST) NewGetOptions() (runtime.Object, bool, string) {
	return &corev1.PodLogOptions{}, false, ""
}

// OverrideMetricsVerb counts log reads as CONNECT, as Kubernetes does.
func (r *LogREST) OverrideMetricsVerb(verb string) string {
	if verb == "GET" {
		return "CONNECT"
	}
	return verb
}

func (r *LogREST) Get(ctx context.Context, name string, opts runtime.Object) (runtime.Object, error) {
	logOpts, ok := opts.(*corev1.PodLogOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %#v", opts)
	}
	if errs := validateLogOptions(logOpts); len(errs) > 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Kind: "PodLogOptions"}, name, errs)
	}
	location, transport, err := logLocation(ctx, r.Pods, r.Kubelet, name, logOpts)
	if err != nil {
		return nil, err
	}
	return &genericrest.LocationStreamer{
		Location:        location,
		Transport:       transport,
		ContentType:     "text/plain",
		Flush:           logOpts.Follow,
		ResponseChecker: genericrest.NewGenericHttpResponseChecker(schema.GroupResource{Resource: "pods/log"}, name),
		RedirectChecker: genericrest.PreventRedirects,
	}, nil
}

// validateLogOptions checks the log query as Kubernetes 1.37 does with
// stream selection (an alpha feature) disabled.
func validateLogOptions(opts *corev1.PodLogOptions) field.ErrorList {
	var errs field.ErrorList
	if opts.TailLines != nil && *opts.TailLines < 0 {
		errs = append(errs, field.Invalid(field.NewPath("tailLines"), *opts.TailLines, "must be greater than or equal to 0"))
	}
	if opts.LimitBytes != nil && *opts.LimitBytes < 1 {
		errs = append(errs, field.Invalid(field.NewPath("limitBytes"), *opts.LimitBytes, "must be greater than 0"))
	}
	switch {
	case opts.SinceSeconds != nil && opts.SinceTime != nil:
		errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
	case opts.SinceSeconds != nil && *opts.SinceSeconds < 1:
		errs = append(errs, field.Invalid(field.NewPath("sinceSeconds"), *opts.SinceSeconds, "must be greater than 0"))
	}
	if opts.Stream != nil {
		errs = append(errs, field.Forbidden(field.NewPath("stream"), "may not be specified"))
	}
	return errs
}

// streamREST holds what exec, attach and port-forward share.
type streamREST struct {
	Pods       rest.Getter
	Kubelet    ConnectionInfoGetter
	Authorizer authorizer.UnconditionalAuthorizer
}

func (r *streamREST) Destroy()                 {}
func (r *streamREST) ConnectMethods() []string { return upgradeMethods }

// ensureCreateAllowed requires the "create" verb on the subresource even
// when it arrives as a WebSocket GET: policies written for SPDY (which POSTs)
// grant create, and a GET must not get around them (kubernetes#133515).
func (r *streamREST) ensureCreateAllowed(ctx context.Context) error {
	info, ok := genericapirequest.RequestInfoFrom(ctx)
	if !ok {
		return apierrors.NewInternalError(errors.New("no request info in context"))
	}
	if info.Verb == "create" {
		return nil
	}
	if r.Authorizer == nil {
		return apierrors.NewInternalError(errors.New("no authorizer available"))
	}
	attrs, err := filters.GetAuthorizerAttributes(ctx)
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("error building authorizer attributes: %w", err))
	}
	decision, reason, err := r.Authorizer.Authorize(ctx, createVerb{attrs})
	if err != nil {
		return err
	}
	if decision != authorizer.DecisionAllow {
		return apierrors.NewForbidden(schema.GroupResource{Group: info.APIGroup, Resource: info.Resource}, info.Name, errors.New(reason))
	}
	return nil
}

type createVerb struct{ authorizer.Attributes }

func (createVerb) GetVerb() string { return "create" }

// streamHandler proxies an exec or attach stream to the kubelet. A
// WebSocket client is proxied as is to kubelets that speak WebSockets, and
// otherwise translated here to the SPDY the kubelet speaks.
func streamHandler(location *url.URL, info *ConnectionInfo, opts translator.Options, responder rest.Responder) http.Handler {
	handler := upgradeAwareHandler(location, info.Transport, false, true, responder)
	if slices.Contains(info.NodeFeatures, extendWebSocketsToKubelet) {
		return handler
	}
	stream := translator.NewStreamTranslatorHandler(location, info.Transport, 0, opts)
	return translator.NewTranslatingHandler(handler, stream, wsstream.IsWebSocketRequestWithStreamCloseProtocol)
}

// ExecREST serves pods/exec.
type ExecREST struct{ streamREST }

var _ rest.Connecter = &ExecREST{}

func (r *ExecREST) New() runtime.Object { return &corev1.PodExecOptions{} }
func (r *ExecREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodExecOptions{}, false, ""
}

func (r *ExecREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	if err := r.ensureCreateAllowed(ctx); err != nil {
		return nil, err
	}
	execOpts, ok := opts.(*corev1.PodExecOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %#v", opts)
	}
	location, info, err := streamLocation(ctx, r.Pods, r.Kubelet, name, execOpts, execOpts.Container, "exec")
	if err != nil {
		return nil, err
	}
	return streamHandler(location, info, translator.Options{
		Stdin: execOpts.Stdin, Stdout: execOpts.Stdout, Stderr: execOpts.Stderr, Tty: execOpts.TTY,
	}, responder), nil
}

// AttachREST serves pods/attach.
type AttachREST struct{ streamREST }

var _ rest.Connecter = &AttachREST{}

func (r *AttachREST) New() runtime.Object { return &corev1.PodAttachOptions{} }
func (r *AttachREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodAttachOptions{}, false, ""
}

func (r *AttachREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	if err := r.ensureCreateAllowed(ctx); err != nil {
		return nil, err
	}
	attachOpts, ok := opts.(*corev1.PodAttachOptions)
	if !ok {
		return nil, fmt.Errorf("Invalid options object: %#v", opts)
	}
	location, info, err := streamLocation(ctx, r.Pods, r.Kubelet, name, attachOpts, attachOpts.Container, "attach")
	if err != nil {
		return nil, err
	}
	return streamHandler(location, info, translator.Options{
		Stdin: attachOpts.Stdin, Stdout: attachOpts.Stdout, Stderr: attachOpts.Stderr, Tty: attachOpts.TTY,
	}, responder), nil
}

// PortForwardREST serves pods/portforward.
type PortForwardREST struct{ streamREST }

var _ rest.Connecter = &PortForwardREST{}

func (r *PortForwardREST) New() runtime.Object { return &corev1.PodPortForwardOptions{} }
func (r *PortForwardREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodPortForwardOptions{}, false, ""
}

func (r *PortForwardREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	if err := r.ensureCreateAllowed(ctx); err != nil {
		return nil, err
	}
	pfOpts, ok := opts.(*corev1.PodPortForwardOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %#v", opts)
	}
	location, info, err := portForwardLocation(ctx, r.Pods, r.Kubelet, name, pfOpts)
	if err != nil {
		return nil, err
	}
	handler := upgradeAwareHandler(location, info.Transport, false, true, responder)
	if slices.Contains(info.NodeFeatures, extendWebSocketsToKubelet) {
		return handler, nil
	}
	return translator.NewTranslatingHandler(handler, translator.NewTunnelingHandler(handler), wsstream.IsWebSocketRequestWithTunnelingProtocol), nil
}

// PodProxyREST serves pods/proxy: HTTP to the pod's IP.
type PodProxyREST struct {
	Pods      rest.Getter
	Transport http.RoundTripper
}

var _ rest.Connecter = &PodProxyREST{}

func (r *PodProxyREST) New() runtime.Object      { return &corev1.PodProxyOptions{} }
func (r *PodProxyREST) Destroy()                 {}
func (r *PodProxyREST) ConnectMethods() []string { return proxyMethods }
func (r *PodProxyREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodProxyOptions{}, true, "path"
}

func (r *PodProxyREST) Connect(ctx context.Context, id string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	proxyOpts, ok := opts.(*corev1.PodProxyOptions)
	if !ok {
		return nil, fmt.Errorf("Invalid options object: %#v", opts)
	}
	location, err := podLocation(ctx, r.Pods, id)
	if err != nil {
		return nil, err
	}
	location.Path = utilnet.JoinPreservingTrailingSlash(location.Path, proxyOpts.Path)
	return upgradeAwareHandler(location, r.Transport, true, false, responder), nil
}
