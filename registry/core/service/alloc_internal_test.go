package service

import (
	"fmt"
	"math/big"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestIPRange(t *testing.T) {
	for _, tc := range []struct {
		cidr                     string
		first, last, offsetStart string
		size                     uint64
	}{
		{"10.43.0.0/16", "10.43.0.1", "10.43.255.254", "10.43.1.1", 65534},
		{"10.0.0.0/24", "10.0.0.1", "10.0.0.254", "10.0.0.17", 254},
		{"192.168.1.0/28", "192.168.1.1", "192.168.1.14", "192.168.1.1", 14},
		{"fd00:43::/112", "fd00:43::1", "fd00:43::ffff", "fd00:43::101", 65535},
	} {
		t.Run(tc.cidr, func(t *testing.T) {
			r, err := newIPRange(netip.MustParsePrefix(tc.cidr))
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprint(r.first, " ", r.last, " ", r.offsetAddr, " ", r.size)
			want := fmt.Sprint(tc.first, " ", tc.last, " ", tc.offsetStart, " ", tc.size)
			if got != want {
				t.Errorf("first last offset size = %s, want %s", got, want)
			}
		})
	}
	if _, err := newIPRange(netip.MustParsePrefix("fd00::/48")); err == nil {
		t.Errorf("an IPv6 range wider than /64 was accepted")
	}
}

func TestPrefixContainsIP(t *testing.T) {
	p := netip.MustParsePrefix("10.43.0.0/16")
	for ip, want := range map[string]bool{
		"10.43.0.0": false, "10.43.255.255": false, "10.43.0.1": true, "10.44.0.1": false,
	} {
		if got := prefixContainsIP(p, netip.MustParseAddr(ip)); got != want {
			t.Errorf("%s in %s = %v, want %v", ip, p, got, want)
		}
	}
	if !prefixContainsIP(netip.MustParsePrefix("fd00::/112"), netip.MustParseAddr("fd00::ffff")) {
		t.Errorf("the last IPv6 address is allocatable: IPv6 has no broadcast address")
	}
}

func TestPortPick(t *testing.T) {
	p := &portAllocator{ports: PortRange{Base: 30000, Size: 2768}, offset: portRangeOffset(2768)}
	if p.offset != 86 {
		t.Fatalf("offset = %d, want 86", p.offset)
	}
	bits := new(big.Int)
	// The upper part is used first, then the lower part, then none is left.
	seen := map[int]bool{}
	for i := 0; i < p.ports.Size; i++ {
		at, ok := p.pick(bits)
		if !ok || seen[at] {
			t.Fatalf("pick %d: got %d, ok %v", i, at, ok)
		}
		if i < p.ports.Size-p.offset && at < p.offset {
			t.Fatalf("pick %d took %d from the static part before the dynamic part was full", i, at)
		}
		seen[at] = true
		bits.SetBit(bits, at, 1)
	}
	if _, ok := p.pick(bits); ok {
		t.Errorf("a full range still handed out a port")
	}
}

func TestRepairNodePortsOf(t *testing.T) {
	svc := &corev1.Service{Spec: corev1.ServiceSpec{
		Ports: []corev1.ServicePort{
			{Port: 53, Protocol: corev1.ProtocolTCP, NodePort: 30053},
			{Port: 53, Protocol: corev1.ProtocolUDP, NodePort: 30053},
			{Port: 80, Protocol: corev1.ProtocolTCP, NodePort: 30080},
			{Port: 81, Protocol: corev1.ProtocolTCP, NodePort: 30080},
		},
		HealthCheckNodePort: 30099,
	}}
	if got := fmt.Sprint(repairNodePortsOf(svc)); got != "[30053 30080 30080 30099]" {
		t.Errorf("ports = %s, want [30053 30080 30080 30099]", got)
	}
}

func TestDropTypeDependentFields(t *testing.T) {
	lb := func() *corev1.Service {
		return &corev1.Service{Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			ClusterIP:                     "10.43.0.9",
			ClusterIPs:                    []string{"10.43.0.9"},
			IPFamilies:                    []corev1.IPFamily{corev1.IPv4Protocol},
			IPFamilyPolicy:                ptr.To(corev1.IPFamilyPolicySingleStack),
			Ports:                         []corev1.ServicePort{{Port: 80, NodePort: 30080}},
			ExternalTrafficPolicy:         corev1.ServiceExternalTrafficPolicyLocal,
			HealthCheckNodePort:           30081,
			AllocateLoadBalancerNodePorts: ptr.To(true),
			LoadBalancerClass:             ptr.To("example.com/lb"),
		}}
	}
	for _, tc := range []struct {
		name   string
		change func(*corev1.Service)
		check  func(*corev1.Service) string
	}{
		{
			name:   "to-cluster-ip",
			change: func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP },
			check: func(s *corev1.Service) string {
				if s.Spec.Ports[0].NodePort != 0 || s.Spec.HealthCheckNodePort != 0 || s.Spec.ExternalTrafficPolicy != "" ||
					s.Spec.AllocateLoadBalancerNodePorts != nil || s.Spec.LoadBalancerClass != nil || s.Spec.ClusterIP == "" {
					return fmt.Sprintf("%+v", s.Spec)
				}
				return ""
			},
		},
		{
			name: "to-cluster-ip-with-new-node-port",
			change: func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeClusterIP
				s.Spec.Ports[0].NodePort = 30090
			},
			check: func(s *corev1.Service) string {
				if s.Spec.Ports[0].NodePort != 30090 {
					return "a nodePort the user changed was dropped"
				}
				return ""
			},
		},
		{
			name: "to-external-name",
			change: func(s *corev1.Service) {
				s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
			},
			check: func(s *corev1.Service) string {
				if s.Spec.ClusterIP != "" || s.Spec.ClusterIPs != nil || s.Spec.IPFamilies != nil || s.Spec.IPFamilyPolicy != nil {
					return fmt.Sprintf("%+v", s.Spec)
				}
				return ""
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, svc := lb(), lb()
			svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "1.2.3.4"}}
			tc.change(svc)
			dropTypeDependentFields(svc, old)
			if msg := tc.check(svc); msg != "" {
				t.Error(msg)
			}
			if len(svc.Status.LoadBalancer.Ingress) != 0 {
				t.Errorf("load-balancer status kept on a non-LoadBalancer")
			}
		})
	}
}

func TestValidateClusterIPsRelatedFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec corev1.ServiceSpec
		want string
	}{
		{"ok", corev1.ServiceSpec{ClusterIP: "10.43.0.1", ClusterIPs: []string{"10.43.0.1"}}, "[]"},
		{"mismatch", corev1.ServiceSpec{ClusterIP: "10.43.0.1", ClusterIPs: []string{"10.43.0.2"}},
			`[spec.clusterIPs: Invalid value: ["10.43.0.2"]: first value must match ` + "`clusterIP`]"},
		{"none-not-alone", corev1.ServiceSpec{ClusterIP: "None", ClusterIPs: []string{"None", "10.43.0.2"}},
			`[spec.clusterIPs: Invalid value: ["None","10.43.0.2"]: 'None' must be the first and only value]`},
		{"same-family-twice", corev1.ServiceSpec{ClusterIP: "10.43.0.1", ClusterIPs: []string{"10.43.0.1", "10.43.0.2"}},
			`[spec.clusterIPs: Invalid value: ["10.43.0.1","10.43.0.2"]: may specify no more than one IP for each IP family]`},
		{"family-mismatch", corev1.ServiceSpec{ClusterIP: "10.43.0.1", ClusterIPs: []string{"10.43.0.1"}, IPFamilies: []corev1.IPFamily{corev1.IPv6Protocol}},
			"[spec.clusterIPs[0]: Invalid value: \"10.43.0.1\": expected an IPv6 value as indicated by `ipFamilies[0]`]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := validateClusterIPsRelatedFields(&corev1.Service{Spec: tc.spec}, nil)
			if got := fmt.Sprint(errs); got != tc.want {
				t.Errorf("errors = %s\nwant %s", got, tc.want)
			}
		})
	}
}
