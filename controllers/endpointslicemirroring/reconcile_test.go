package endpointslicemirroring

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	endpointsliceutil "k8s.io/endpointslice/util"
)

func TestReconcileLimitsAndEvents(t *testing.T) {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	tests := []struct {
		name       string
		subsets    []corev1.EndpointSubset
		wantSlices map[discoveryv1.AddressType]int // endpoints per slice
		wantEvents []string
	}{
		{
			name:       "within the limit",
			subsets:    []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1"), NotReadyAddresses: addrs("10.0.0.2"), Ports: []corev1.EndpointPort{{Port: 80}}}},
			wantSlices: map[discoveryv1.AddressType]int{discoveryv1.AddressTypeIPv4: 2},
		},
		{
			name:       "addresses beyond the limit are skipped",
			subsets:    []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2"), NotReadyAddresses: addrs("10.0.0.3"), Ports: []corev1.EndpointPort{{Port: 80}}}},
			wantSlices: map[discoveryv1.AddressType]int{discoveryv1.AddressTypeIPv4: 2},
			wantEvents: []string{"Warning TooManyAddressesToMirror A max of 2 addresses can be mirrored to EndpointSlices per Endpoints subset. 1 addresses were skipped"},
		},
		{
			name:       "invalid addresses are skipped",
			subsets:    []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "not-an-ip"), Ports: []corev1.EndpointPort{{Port: 80}}}},
			wantSlices: map[discoveryv1.AddressType]int{discoveryv1.AddressTypeIPv4: 1},
			wantEvents: []string{"Warning InvalidIPAddress Skipped 1 invalid IP addresses when mirroring to EndpointSlices"},
		},
		{
			name:       "one slice per address type",
			subsets:    []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "fd00::1"), Ports: []corev1.EndpointPort{{Port: 80}}}},
			wantSlices: map[discoveryv1.AddressType]int{discoveryv1.AddressTypeIPv4: 1, discoveryv1.AddressTypeIPv6: 1},
		},
		{
			// Upstream's e2e "multiple subsets and same IP address": the
			// subsets are repacked into one address with both ports.
			name: "one address in two subsets",
			subsets: []corev1.EndpointSubset{
				{Addresses: addrs("10.0.0.1"), Ports: []corev1.EndpointPort{{Name: "port80", Port: 8090}}},
				{Addresses: addrs("10.0.0.1"), Ports: []corev1.EndpointPort{{Name: "port81", Port: 9090}}},
			},
			wantSlices: map[discoveryv1.AddressType]int{discoveryv1.AddressTypeIPv4: 1},
		},
		{
			name:       "nothing to mirror",
			subsets:    nil,
			wantSlices: map[discoveryv1.AddressType]int{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			// The fake does not generate names; the server would.
			n := 0
			client.PrependReactor("create", "endpointslices", func(action clienttesting.Action) (bool, runtime.Object, error) {
				s := action.(clienttesting.CreateAction).GetObject().(*discoveryv1.EndpointSlice)
				n++
				s.Name = fmt.Sprintf("%s%d", s.GenerateName, n)
				return false, nil, nil
			})
			recorder := record.NewFakeRecorder(10)
			r := &reconciler{client: client, tracker: endpointsliceutil.NewEndpointSliceTracker(), recorder: recorder, maxPerSubset: 2}
			ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "svc", Namespace: "ns", UID: "u1"}, Subsets: tc.subsets}
			if err := r.reconcile(t.Context(), ep, nil); err != nil {
				t.Fatal(err)
			}
			list, err := client.DiscoveryV1().EndpointSlices("ns").List(t.Context(), metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[discoveryv1.AddressType]int{}
			for _, s := range list.Items {
				got[s.AddressType] = len(s.Endpoints)
				if s.GenerateName != "svc-" || s.Labels[discoveryv1.LabelServiceName] != "svc" || s.Labels[discoveryv1.LabelManagedBy] != ControllerName {
					t.Errorf("slice meta %+v", s.ObjectMeta)
				}
			}
			if len(got) != len(tc.wantSlices) {
				t.Errorf("slices %v, want %v", got, tc.wantSlices)
			}
			for k, v := range tc.wantSlices {
				if got[k] != v {
					t.Errorf("slices %v, want %v", got, tc.wantSlices)
				}
			}
			close(recorder.Events)
			var events []string
			for e := range recorder.Events {
				events = append(events, e)
			}
			if len(events) != len(tc.wantEvents) {
				t.Fatalf("events %q, want %q", events, tc.wantEvents)
			}
			for i := range events {
				if events[i] != tc.wantEvents[i] {
					t.Errorf("event %q, want %q", events[i], tc.wantEvents[i])
				}
			}
		})
	}
}
