package v1

import (
	"net/url"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestPodLogOptionsFromQuery(t *testing.T) {
	since := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Local())
	tests := []struct {
		query   string
		want    corev1.PodLogOptions
		wantErr bool
	}{
		{
			query: "container=c&follow=true&tailLines=10&timestamps=true&sinceSeconds=5",
			want:  corev1.PodLogOptions{Container: "c", Follow: true, TailLines: ptr.To[int64](10), Timestamps: true, SinceSeconds: ptr.To[int64](5)},
		},
		{
			query: "previous=1&limitBytes=4096&sinceTime=2026-01-02T03:04:05Z&stream=Stderr&insecureSkipTLSVerifyBackend=",
			want: corev1.PodLogOptions{Previous: true, LimitBytes: ptr.To[int64](4096), SinceTime: &since,
				Stream: ptr.To("Stderr"), InsecureSkipTLSVerifyBackend: true},
		},
		{query: "follow=FALSE&previous=0&container=", want: corev1.PodLogOptions{}},
		{query: "tailLines=ten", wantErr: true},
		{query: "sinceTime=yesterday", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var got corev1.PodLogOptions
			err := PodLogOptionsFromQuery(mustQuery(t, tt.query), &got)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestExecAttachPortForwardProxyFromQuery(t *testing.T) {
	t.Run("exec", func(t *testing.T) {
		var got corev1.PodExecOptions
		if err := PodExecOptionsFromQuery(mustQuery(t, "command=ls&command=-l&stdin=true&tty=true&container=c"), &got); err != nil {
			t.Fatal(err)
		}
		want := corev1.PodExecOptions{Command: []string{"ls", "-l"}, Stdin: true, TTY: true, Container: "c"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	t.Run("attach", func(t *testing.T) {
		var got corev1.PodAttachOptions
		if err := PodAttachOptionsFromQuery(mustQuery(t, "stdout=true&stderr=true&container=c"), &got); err != nil {
			t.Fatal(err)
		}
		if want := (corev1.PodAttachOptions{Stdout: true, Stderr: true, Container: "c"}); got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	t.Run("portforward", func(t *testing.T) {
		var got corev1.PodPortForwardOptions
		if err := PodPortForwardOptionsFromQuery(mustQuery(t, "ports=80,443&ports=8080"), &got); err != nil {
			t.Fatal(err)
		}
		if want := []int32{80, 443, 8080}; !reflect.DeepEqual(got.Ports, want) {
			t.Errorf("ports %v, want %v", got.Ports, want)
		}
		if err := PodPortForwardOptionsFromQuery(mustQuery(t, "ports=70000"), &got); err == nil {
			t.Error("port 70000 accepted")
		}
	})
	t.Run("proxy", func(t *testing.T) {
		var pod corev1.PodProxyOptions
		var node corev1.NodeProxyOptions
		var svc corev1.ServiceProxyOptions
		q := mustQuery(t, "path=/healthz")
		for _, err := range []error{PodProxyOptionsFromQuery(q, &pod), NodeProxyOptionsFromQuery(q, &node), ServiceProxyOptionsFromQuery(q, &svc)} {
			if err != nil {
				t.Fatal(err)
			}
		}
		if pod.Path != "/healthz" || node.Path != "/healthz" || svc.Path != "/healthz" {
			t.Errorf("paths %q %q %q", pod.Path, node.Path, svc.Path)
		}
	})
}
