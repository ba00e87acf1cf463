package endpoints

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
)

func addr(ip string) corev1.EndpointAddress { return corev1.EndpointAddress{IP: ip} }

func port(name string, p int32) corev1.EndpointPort {
	return corev1.EndpointPort{Name: name, Port: p, Protocol: corev1.ProtocolTCP}
}

func TestRepack(t *testing.T) {
	tests := []struct {
		name string
		in   []corev1.EndpointSubset
		want []corev1.EndpointSubset
	}{
		{
			name: "one subset per address set, addresses sorted",
			in: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{addr("10.0.0.2")}, Ports: []corev1.EndpointPort{port("http", 80)}},
				{Addresses: []corev1.EndpointAddress{addr("10.0.0.1")}, Ports: []corev1.EndpointPort{port("http", 80)}},
			},
			want: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{addr("10.0.0.1"), addr("10.0.0.2")}, Ports: []corev1.EndpointPort{port("http", 80)}},
			},
		},
		{
			name: "ports of the same addresses merge",
			in: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{addr("10.0.0.1")}, Ports: []corev1.EndpointPort{port("a", 80)}},
				{Addresses: []corev1.EndpointAddress{addr("10.0.0.1")}, Ports: []corev1.EndpointPort{port("b", 81)}},
			},
			want: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{addr("10.0.0.1")}, Ports: sortSubsets([]corev1.EndpointSubset{{Ports: []corev1.EndpointPort{port("a", 80), port("b", 81)}}})[0].Ports},
			},
		},
		{
			name: "not ready trumps ready",
			in: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{addr("10.0.0.1")}, Ports: []corev1.EndpointPort{port("http", 80)}},
				{NotReadyAddresses: []corev1.EndpointAddress{addr("10.0.0.1")}, Ports: []corev1.EndpointPort{port("http", 80)}},
			},
			want: []corev1.EndpointSubset{
				{NotReadyAddresses: []corev1.EndpointAddress{addr("10.0.0.1")}, Ports: []corev1.EndpointPort{port("http", 80)}},
			},
		},
		{
			name: "addresses without ports are kept",
			in: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{addr("10.0.0.1")}, Ports: []corev1.EndpointPort{}},
			},
			want: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{addr("10.0.0.1")}},
			},
		},
		{name: "nothing", in: nil, want: []corev1.EndpointSubset{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := repack(tt.in)
			if !apiequality.Semantic.DeepEqual(got, tt.want) {
				t.Errorf("repack:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{}, {}}}
	for i := range 800 {
		ep.Subsets[i%2].Addresses = append(ep.Subsets[i%2].Addresses, addr("10.0.0.1"))
		ep.Subsets[i%2].NotReadyAddresses = append(ep.Subsets[i%2].NotReadyAddresses, addr("10.0.1.1"))
	}
	if !truncate(ep) {
		t.Fatal("1,600 addresses not truncated")
	}
	ready, notReady := 0, 0
	for _, ss := range ep.Subsets {
		ready += len(ss.Addresses)
		notReady += len(ss.NotReadyAddresses)
	}
	if ready != 800 || notReady != 200 {
		t.Errorf("kept %d ready and %d not ready, want all 800 ready and 200 not ready", ready, notReady)
	}
}
