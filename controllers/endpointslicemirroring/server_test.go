package endpointslicemirroring_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/skiff-dev/skiff/internal/testserver"
)

var server *testserver.Server

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{Binary: os.Getenv("SKIFF_BIN")}, func(s *testserver.Server) { server = s }))
}

func clientFor(t *testing.T) kubernetes.Interface {
	t.Helper()
	c, err := server.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const managedBy = "endpointslicemirroring-controller.k8s.io"

// mirrored lists the slices labelled for service name, as the conformance
// test does.
func mirrored(ctx context.Context, client kubernetes.Interface, ns, name string) ([]discoveryv1.EndpointSlice, error) {
	l, err := client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + name})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// waitSlices waits up to the conformance test's 12 s for the slices of
// service name to satisfy ok.
func waitSlices(t *testing.T, client kubernetes.Interface, ns, name string, ok func([]discoveryv1.EndpointSlice) bool) []discoveryv1.EndpointSlice {
	t.Helper()
	var got []discoveryv1.EndpointSlice
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 12*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		got, err = mirrored(ctx, client, ns, name)
		return err == nil && ok(got), err
	})
	if err != nil {
		t.Fatalf("slices of %s/%s: %v; last seen %+v", ns, name, err, got)
	}
	return got
}

// noSlicesFor checks that service name has no slices for a while: the
// controller had every chance to (wrongly) write one.
func noSlicesFor(t *testing.T, client kubernetes.Interface, ns, name string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		got, err := mirrored(t.Context(), client, ns, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range got {
			if s.Labels[discoveryv1.LabelManagedBy] == managedBy {
				t.Fatalf("endpoints %s/%s mirrored although they must not be: %+v", ns, name, s)
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func service(name string, selector map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Selector: selector,
			Ports:    []corev1.ServicePort{{Name: "example", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
}

func endpoints(name string, ips ...string) *corev1.Endpoints {
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Subsets:    []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}},
	}
	for _, ip := range ips {
		ep.Subsets[0].Addresses = append(ep.Subsets[0].Addresses, corev1.EndpointAddress{IP: ip})
	}
	return ep
}

func addresses(slices []discoveryv1.EndpointSlice) []string {
	var out []string
	for _, s := range slices {
		for _, e := range s.Endpoints {
			out = append(out, e.Addresses...)
		}
	}
	return out
}

// TestConformanceMirroring follows "[sig-network] EndpointSliceMirroring
// should mirror a custom Endpoints resource through create update and
// delete [Conformance]" step by step, with its timeouts.
func TestConformanceMirroring(t *testing.T) {
	client := clientFor(t)
	ctx := t.Context()
	ns := testserver.Namespace(t, client)
	svc, err := client.CoreV1().Services(ns).Create(ctx, service("example-custom-endpoints", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ep := endpoints(svc.Name, "10.1.2.3")
	created, err := client.CoreV1().Endpoints(ns).Create(ctx, ep, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := waitSlices(t, client, ns, svc.Name, func(s []discoveryv1.EndpointSlice) bool { return len(s) > 0 })
	for _, s := range got {
		if len(s.Ports) != 1 || *s.Ports[0].Port != 80 || len(s.Endpoints) != 1 || len(s.Endpoints[0].Addresses) != 1 || s.Endpoints[0].Addresses[0] != "10.1.2.3" {
			t.Fatalf("mirrored slice %+v", s)
		}
	}
	s := got[0]
	if s.Labels[discoveryv1.LabelManagedBy] != managedBy || s.AddressType != discoveryv1.AddressTypeIPv4 || !strings.HasPrefix(s.Name, svc.Name+"-") {
		t.Errorf("slice meta %+v", s.ObjectMeta)
	}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].Kind != "Endpoints" || s.OwnerReferences[0].UID != created.UID || !*s.OwnerReferences[0].Controller {
		t.Errorf("owner references %+v", s.OwnerReferences)
	}
	if *s.Ports[0].Protocol != corev1.ProtocolTCP || *s.Ports[0].Name != "" || !*s.Endpoints[0].Conditions.Ready {
		t.Errorf("slice %+v", s)
	}

	ep.Subsets[0].Addresses = []corev1.EndpointAddress{{IP: "10.2.3.4"}}
	if _, err := client.CoreV1().Endpoints(ns).Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got = waitSlices(t, client, ns, svc.Name, func(s []discoveryv1.EndpointSlice) bool {
		return len(s) == 1 && slices.Equal(addresses(s), []string{"10.2.3.4"})
	})
	if got[0].Name != s.Name {
		t.Errorf("the update made slice %s instead of updating %s", got[0].Name, s.Name)
	}

	if err := client.CoreV1().Endpoints(ns).Delete(ctx, ep.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSlices(t, client, ns, svc.Name, func(s []discoveryv1.EndpointSlice) bool { return len(s) == 0 })
}

// TestMirroring covers what else decides whether and how Endpoints are
// mirrored.
func TestMirroring(t *testing.T) {
	client := clientFor(t)
	ctx := t.Context()
	ns := testserver.Namespace(t, client)

	t.Run("address types split into slices, metadata copied", func(t *testing.T) {
		if _, err := client.CoreV1().Services(ns).Create(ctx, service("dual", nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		ep := endpoints("dual", "10.0.0.1", "fd00::1")
		ep.Subsets[0].NotReadyAddresses = []corev1.EndpointAddress{{IP: "10.0.0.2", Hostname: "web-2"}}
		ep.Labels = map[string]string{"team": "a"}
		ep.Annotations = map[string]string{"note": "kept", corev1.EndpointsLastChangeTriggerTime: "2026-01-01T00:00:00Z"}
		if _, err := client.CoreV1().Endpoints(ns).Create(ctx, ep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		got := waitSlices(t, client, ns, "dual", func(s []discoveryv1.EndpointSlice) bool { return len(s) == 2 && len(addresses(s)) == 3 })
		for _, s := range got {
			if s.Labels["team"] != "a" || s.Annotations["note"] != "kept" || s.Annotations[corev1.EndpointsLastChangeTriggerTime] != "" {
				t.Errorf("slice %s metadata %v %v", s.Name, s.Labels, s.Annotations)
			}
			switch s.AddressType {
			case discoveryv1.AddressTypeIPv6:
				if !slices.Equal(addresses([]discoveryv1.EndpointSlice{s}), []string{"fd00::1"}) {
					t.Errorf("IPv6 slice %+v", s.Endpoints)
				}
			case discoveryv1.AddressTypeIPv4:
				for _, e := range s.Endpoints {
					ready := e.Addresses[0] == "10.0.0.1"
					if *e.Conditions.Ready != ready || (!ready && (e.Hostname == nil || *e.Hostname != "web-2")) {
						t.Errorf("endpoint %+v", e)
					}
				}
			default:
				t.Errorf("slice %s address type %s", s.Name, s.AddressType)
			}
		}

		// A user's edit of a mirrored slice is undone.
		v4 := got[0]
		if v4.AddressType != discoveryv1.AddressTypeIPv4 {
			v4 = got[1]
		}
		v4.Endpoints = v4.Endpoints[:1]
		if _, err := client.DiscoveryV1().EndpointSlices(ns).Update(ctx, &v4, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitSlices(t, client, ns, "dual", func(s []discoveryv1.EndpointSlice) bool { return len(s) == 2 && len(addresses(s)) == 3 })
	})

	t.Run("label and annotation updates are mirrored", func(t *testing.T) {
		ep, err := client.CoreV1().Endpoints(ns).Get(ctx, "dual", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ep.Labels["foo"] = "bar"
		ep.Annotations["foo2"] = "bar2"
		ep.Annotations[corev1.EndpointsLastChangeTriggerTime] = "date"
		if _, err := client.CoreV1().Endpoints(ns).Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitSlices(t, client, ns, "dual", func(s []discoveryv1.EndpointSlice) bool {
			return len(s) == 2 && !slices.ContainsFunc(s, func(s discoveryv1.EndpointSlice) bool {
				return s.Labels["foo"] != "bar" || s.Annotations["foo2"] != "bar2" || s.Annotations[corev1.EndpointsLastChangeTriggerTime] != ""
			})
		})
	})

	t.Run("skip-mirror label", func(t *testing.T) {
		if _, err := client.CoreV1().Services(ns).Create(ctx, service("skipped", nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		ep := endpoints("skipped", "10.0.1.1")
		ep.Labels = map[string]string{discoveryv1.LabelSkipMirror: "true"}
		if _, err := client.CoreV1().Endpoints(ns).Create(ctx, ep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		noSlicesFor(t, client, ns, "skipped")
		// Taking the label off mirrors them.
		cur, err := client.CoreV1().Endpoints(ns).Get(ctx, "skipped", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cur.Labels = nil
		if _, err := client.CoreV1().Endpoints(ns).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitSlices(t, client, ns, "skipped", func(s []discoveryv1.EndpointSlice) bool { return len(s) == 1 })
	})

	t.Run("service with a selector", func(t *testing.T) {
		if _, err := client.CoreV1().Services(ns).Create(ctx, service("selected", map[string]string{"app": "none"}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The endpoints controller may rewrite these Endpoints; whatever
		// they hold, the slices are the endpointslice controller's.
		// It may also have made them first: then they are overwritten.
		ep := endpoints("selected", "10.0.2.1")
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			_, err := client.CoreV1().Endpoints(ns).Create(ctx, ep, metav1.CreateOptions{})
			if !apierrors.IsAlreadyExists(err) {
				return err
			}
			cur, err := client.CoreV1().Endpoints(ns).Get(ctx, ep.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur.Subsets = ep.Subsets
			_, err = client.CoreV1().Endpoints(ns).Update(ctx, cur, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		noSlicesFor(t, client, ns, "selected")
	})

	t.Run("endpoints without a service", func(t *testing.T) {
		if _, err := client.CoreV1().Endpoints(ns).Create(ctx, endpoints("orphan", "10.0.3.1"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		noSlicesFor(t, client, ns, "orphan")
		// The Service arriving later starts the mirroring.
		if _, err := client.CoreV1().Services(ns).Create(ctx, service("orphan", nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitSlices(t, client, ns, "orphan", func(s []discoveryv1.EndpointSlice) bool { return len(s) == 1 })
		// A Service given a selector loses its mirrored slices.
		svc, err := client.CoreV1().Services(ns).Get(ctx, "orphan", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		svc.Spec.Selector = map[string]string{"app": "orphan"}
		if _, err := client.CoreV1().Services(ns).Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitSlices(t, client, ns, "orphan", func(s []discoveryv1.EndpointSlice) bool {
			return !slices.ContainsFunc(s, func(s discoveryv1.EndpointSlice) bool { return s.Labels[discoveryv1.LabelManagedBy] == managedBy })
		})
	})

	t.Run("the kubernetes service is not mirrored", func(t *testing.T) {
		noSlicesFor(t, client, metav1.NamespaceDefault, "kubernetes")
	})
}
