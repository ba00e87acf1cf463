package v1

import (
	"net/url"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
)

// The connect and log subresources take their options from the query string.
// The API server decodes it with the scheme's parameter codec, which needs a
// conversion from url.Values to each option type. Every parameter that is
// absent or empty leaves its field at the zero value, and malformed numbers
// and times fail the conversion (the handler answers 400 Bad Request).

func addQueryConversions(s *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{
		queryConversion(PodLogOptionsFromQuery),
		queryConversion(PodExecOptionsFromQuery),
		queryConversion(PodAttachOptionsFromQuery),
		queryConversion(PodPortForwardOptionsFromQuery),
		queryConversion(PodProxyOptionsFromQuery),
		queryConversion(NodeProxyOptionsFromQuery),
		queryConversion(ServiceProxyOptionsFromQuery),
	} {
		if err := add(s); err != nil {
			return err
		}
	}
	return nil
}

func queryConversion[T any](decode func(url.Values, *T) error) func(*runtime.Scheme) error {
	return func(s *runtime.Scheme) error {
		return s.AddConversionFunc((*url.Values)(nil), (*T)(nil), func(a, b any, _ conversion.Scope) error {
			return decode(*a.(*url.Values), b.(*T))
		})
	}
}

// query reads single parameters the way Kubernetes' generated conversions
// do: only the first value of a repeated parameter counts.
type query url.Values

func (q query) values(key string) ([]string, bool) {
	v, ok := q[key]
	return v, ok && len(v) > 0
}

func (q query) first(key string) string {
	if v, ok := q.values(key); ok {
		return v[0]
	}
	return ""
}

// flag is false when the parameter is absent, "0" or "false" in any case,
// and true for anything else, including an empty value: "?follow" follows.
func (q query) flag(key string) bool {
	var out bool
	if v, ok := q.values(key); ok {
		_ = runtime.Convert_Slice_string_To_bool(&v, &out, nil) // never fails
	}
	return out
}

func (q query) number(key string) (*int64, error) {
	var out *int64
	if v, ok := q.values(key); ok {
		if err := runtime.Convert_Slice_string_To_Pointer_int64(&v, &out, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// PodLogOptionsFromQuery decodes the query of GET pods/{name}/log.
func PodLogOptionsFromQuery(in url.Values, out *corev1.PodLogOptions) error {
	q := query(in)
	var err error
	out.Container = q.first("container")
	out.Follow = q.flag("follow")
	out.Previous = q.flag("previous")
	if out.SinceSeconds, err = q.number("sinceSeconds"); err != nil {
		return err
	}
	out.SinceTime = nil
	if v, ok := q.values("sinceTime"); ok {
		if err := metav1.Convert_Slice_string_To_Pointer_v1_Time(&v, &out.SinceTime, nil); err != nil {
			return err
		}
	}
	out.Timestamps = q.flag("timestamps")
	if out.TailLines, err = q.number("tailLines"); err != nil {
		return err
	}
	if out.LimitBytes, err = q.number("limitBytes"); err != nil {
		return err
	}
	out.InsecureSkipTLSVerifyBackend = q.flag("insecureSkipTLSVerifyBackend")
	out.Stream = nil
	if v, ok := q.values("stream"); ok {
		stream := v[0]
		out.Stream = &stream
	}
	return nil
}

// PodExecOptionsFromQuery decodes the query of pods/{name}/exec. The command
// is the list of every "command" parameter in order.
func PodExecOptionsFromQuery(in url.Values, out *corev1.PodExecOptions) error {
	q := query(in)
	out.Stdin = q.flag("stdin")
	out.Stdout = q.flag("stdout")
	out.Stderr = q.flag("stderr")
	out.TTY = q.flag("tty")
	out.Container = q.first("container")
	out.Command = nil
	if v, ok := q.values("command"); ok {
		out.Command = append([]string(nil), v...)
	}
	return nil
}

// PodAttachOptionsFromQuery decodes the query of pods/{name}/attach.
func PodAttachOptionsFromQuery(in url.Values, out *corev1.PodAttachOptions) error {
	q := query(in)
	out.Stdin = q.flag("stdin")
	out.Stdout = q.flag("stdout")
	out.Stderr = q.flag("stderr")
	out.TTY = q.flag("tty")
	out.Container = q.first("container")
	return nil
}

// PodPortForwardOptionsFromQuery decodes the query of pods/{name}/portforward.
// Each "ports" parameter may hold a comma-separated list.
func PodPortForwardOptionsFromQuery(in url.Values, out *corev1.PodPortForwardOptions) error {
	out.Ports = nil
	if v, ok := query(in).values("ports"); ok {
		if err := metav1.Convert_Slice_string_To_Slice_int32(&v, &out.Ports, nil); err != nil {
			return err
		}
	}
	return nil
}

// PodProxyOptionsFromQuery decodes the query of pods/{name}/proxy; the API
// server puts the proxied subpath into the "path" parameter.
func PodProxyOptionsFromQuery(in url.Values, out *corev1.PodProxyOptions) error {
	out.Path = query(in).first("path")
	return nil
}

// NodeProxyOptionsFromQuery decodes the query of nodes/{name}/proxy.
func NodeProxyOptionsFromQuery(in url.Values, out *corev1.NodeProxyOptions) error {
	out.Path = query(in).first("path")
	return nil
}

// ServiceProxyOptionsFromQuery decodes the query of services/{name}/proxy.
func ServiceProxyOptionsFromQuery(in url.Values, out *corev1.ServiceProxyOptions) error {
	out.Path = query(in).first("path")
	return nil
}
