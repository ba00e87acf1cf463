package printers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

var services = schema.GroupResource{Resource: "services"}

func TestServices(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(40 * time.Minute)}
	tcp := func(port, nodePort int32) corev1.ServicePort {
		return corev1.ServicePort{Port: port, NodePort: nodePort, Protocol: corev1.ProtocolTCP}
	}
	lb := func(ingress ...corev1.LoadBalancerIngress) corev1.ServiceStatus {
		return corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: ingress}}
	}
	selector := map[string]string{"app": "web"}

	tests := []struct {
		name string
		svc  corev1.ServiceSpec
		st   corev1.ServiceStatus
		want []any
	}{
		{
			name: "cluster IP with several ports",
			svc: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.43.0.10", ClusterIPs: []string{"10.43.0.10"}, Selector: selector,
				Ports: []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP}, tcp(53, 0), tcp(9153, 0)}},
			want: []any{"web", "ClusterIP", "10.43.0.10", "<none>", "53/UDP,53/TCP,9153/TCP", "40m", "app=web"},
		},
		{
			name: "dual-stack cluster IP shows the primary address",
			svc:  corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"10.43.0.20", "fd00::20"}, Ports: []corev1.ServicePort{tcp(80, 0)}},
			want: []any{"web", "ClusterIP", "10.43.0.20", "<none>", "80/TCP", "40m", "<none>"},
		},
		{
			name: "headless without ports",
			svc:  corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "None", ClusterIPs: []string{"None"}, Selector: selector},
			want: []any{"web", "ClusterIP", "None", "<none>", "<none>", "40m", "app=web"},
		},
		{
			name: "cluster IP with external IPs",
			svc:  corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"10.43.0.30"}, ExternalIPs: []string{"192.0.2.1", "192.0.2.2"}, Ports: []corev1.ServicePort{tcp(80, 0)}},
			want: []any{"web", "ClusterIP", "10.43.0.30", "192.0.2.1,192.0.2.2", "80/TCP", "40m", "<none>"},
		},
		{
			name: "node port",
			svc:  corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIPs: []string{"10.43.0.40"}, Ports: []corev1.ServicePort{tcp(80, 30080), tcp(443, 30443)}},
			want: []any{"web", "NodePort", "10.43.0.40", "<none>", "80:30080/TCP,443:30443/TCP", "40m", "<none>"},
		},
		{
			name: "load balancer waiting for an address",
			svc:  corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.43.0.50"}, Ports: []corev1.ServicePort{tcp(80, 31000)}},
			want: []any{"web", "LoadBalancer", "10.43.0.50", "<pending>", "80:31000/TCP", "40m", "<none>"},
		},
		{
			name: "load balancer addresses are sorted, unique and not clipped on the server",
			svc:  corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.43.0.50"}, Ports: []corev1.ServicePort{tcp(80, 31000)}},
			st:   lb(corev1.LoadBalancerIngress{IP: "203.0.113.9"}, corev1.LoadBalancerIngress{Hostname: "lb.example.com"}, corev1.LoadBalancerIngress{IP: "203.0.113.10"}, corev1.LoadBalancerIngress{IP: "203.0.113.9"}),
			want: []any{"web", "LoadBalancer", "10.43.0.50", "203.0.113.10,203.0.113.9,lb.example.com", "80:31000/TCP", "40m", "<none>"},
		},
		{
			name: "load balancer with external IPs lists both",
			svc:  corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.43.0.50"}, ExternalIPs: []string{"192.0.2.7"}},
			st:   lb(corev1.LoadBalancerIngress{IP: "203.0.113.9"}),
			want: []any{"web", "LoadBalancer", "10.43.0.50", "203.0.113.9,192.0.2.7", "<none>", "40m", "<none>"},
		},
		{
			name: "load balancer with only external IPs",
			svc:  corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.43.0.50"}, ExternalIPs: []string{"192.0.2.7"}},
			want: []any{"web", "LoadBalancer", "10.43.0.50", "192.0.2.7", "<none>", "40m", "<none>"},
		},
		{
			name: "external name",
			svc:  corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"},
			want: []any{"web", "ExternalName", "<none>", "db.example.com", "<none>", "40m", "<none>"},
		},
		{
			name: "unknown type",
			svc:  corev1.ServiceSpec{},
			want: []any{"web", "", "<none>", "<unknown>", "<none>", "40m", "<none>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectCells(t, serverCells(t, services, &corev1.Service{ObjectMeta: meta, Spec: tt.svc, Status: tt.st}), tt.want)
		})
	}

	t.Run("narrow output clips long load balancer addresses", func(t *testing.T) {
		svc := &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer},
			Status: lb(corev1.LoadBalancerIngress{IP: "203.0.113.9"}, corev1.LoadBalancerIngress{IP: "203.0.113.10"})}
		expectCells(t, narrowCells(t, svc)[0].Cells, []any{"web", "LoadBalancer", "<none>", "203.0.113.10,...", "<none>", "40m"})
	})
}

func TestNodes(t *testing.T) {
	ready := func(s corev1.ConditionStatus) []corev1.NodeCondition {
		return []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}, {Type: corev1.NodeReady, Status: s}}
	}
	info := corev1.NodeSystemInfo{KubeletVersion: "v1.37.2", OSImage: "Debian GNU/Linux 13", KernelVersion: "6.12.0", ContainerRuntimeVersion: "containerd://2.1.4", Architecture: "amd64"}
	addresses := []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1"}, {Type: corev1.NodeInternalIP, Address: "192.168.1.10"}, {Type: corev1.NodeExternalIP, Address: "203.0.113.4"}}

	tests := []struct {
		name string
		node corev1.Node
		want []any
	}{
		{
			name: "ready control-plane node",
			node: corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{
					"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "true", "node-role.kubernetes.io/": "", "kubernetes.io/hostname": "n1"}},
				Status: corev1.NodeStatus{Conditions: ready(corev1.ConditionTrue), NodeInfo: info, Addresses: addresses},
			},
			want: []any{"n1", "Ready", "control-plane,master", "5d", "v1.37.2", "192.168.1.10", "203.0.113.4", "Debian GNU/Linux 13", "6.12.0 (amd64)", "containerd://2.1.4"},
		},
		{
			name: "cordoned worker named by the old role label",
			node: corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"kubernetes.io/role": "worker", "node-role.kubernetes.io/worker": ""}},
				Spec:       corev1.NodeSpec{Unschedulable: true},
				Status:     corev1.NodeStatus{Conditions: ready(corev1.ConditionTrue)},
			},
			want: []any{"n1", "Ready,SchedulingDisabled", "worker", "5d", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
		{
			name: "not ready",
			node: corev1.Node{Status: corev1.NodeStatus{Conditions: ready(corev1.ConditionUnknown)}},
			want: []any{"n1", "NotReady", "<none>", "5d", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
		{
			name: "no Ready condition yet, cordoned",
			node: corev1.Node{Spec: corev1.NodeSpec{Unschedulable: true}},
			want: []any{"n1", "Unknown,SchedulingDisabled", "<none>", "5d", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := tt.node
			node.Name = "n1"
			node.CreationTimestamp = ago(5 * 24 * time.Hour)
			expectCells(t, serverCells(t, nodes, &node), tt.want)
		})
	}
}

func TestIngresses(t *testing.T) {
	gr := schema.GroupResource{Group: "networking.k8s.io", Resource: "ingresses"}
	rules := func(hosts ...string) []networkingv1.IngressRule {
		r := make([]networkingv1.IngressRule, len(hosts))
		for i, h := range hosts {
			r[i].Host = h
		}
		return r
	}
	tests := []struct {
		name   string
		spec   networkingv1.IngressSpec
		status networkingv1.IngressStatus
		want   []any
	}{
		{
			name: "no class, no host, no address",
			spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{}},
			want: []any{"web", "<none>", "*", "", "80", "10s"},
		},
		{
			name: "class, hosts, TLS and address",
			spec: networkingv1.IngressSpec{IngressClassName: ptr.To("traefik"), Rules: rules("a.example.com", "b.example.com"),
				TLS: []networkingv1.IngressTLS{{Hosts: []string{"a.example.com"}}}},
			status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{
				{IP: "192.168.1.10"}, {Hostname: "lb.example.com"}}}},
			want: []any{"web", "traefik", "a.example.com,b.example.com", "192.168.1.10,lb.example.com", "80, 443", "10s"},
		},
		{
			name: "rules without hosts do not count toward three",
			spec: networkingv1.IngressSpec{Rules: rules("", "a", "b", "c")},
			want: []any{"web", "<none>", "a,b,c", "", "80", "10s"},
		},
		{
			name: "more than three hosts",
			spec: networkingv1.IngressSpec{Rules: rules("a", "b", "c", "d", "e")},
			want: []any{"web", "<none>", "a,b,c + 2 more...", "", "80", "10s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(10 * time.Second)}, Spec: tt.spec, Status: tt.status}
			expectCells(t, serverCells(t, gr, ing), tt.want)
		})
	}
}

func TestNetworkingObjects(t *testing.T) {
	created := ago(5 * time.Hour)
	meta := metav1.ObjectMeta{Name: "x", CreationTimestamp: created}
	net := func(r string) schema.GroupResource {
		return schema.GroupResource{Group: "networking.k8s.io", Resource: r}
	}
	slices := schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}
	endpoints := schema.GroupResource{Resource: "endpoints"}
	addresses := func(ips ...string) []corev1.EndpointAddress {
		a := make([]corev1.EndpointAddress, len(ips))
		for i, ip := range ips {
			a[i].IP = ip
		}
		return a
	}

	tests := []struct {
		name string
		gr   schema.GroupResource
		obj  runtime.Object
		want []any
	}{
		{
			name: "default ingress class with parameters",
			gr:   net("ingressclasses"),
			obj: &networkingv1.IngressClass{
				ObjectMeta: metav1.ObjectMeta{Name: "traefik", CreationTimestamp: created, Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}},
				Spec: networkingv1.IngressClassSpec{Controller: "skiff.dev/ingress",
					Parameters: &networkingv1.IngressClassParametersReference{APIGroup: ptr.To("k8s.example.com"), Kind: "IngressParameters", Name: "p"}}},
			want: []any{"traefik (default)", "skiff.dev/ingress", "IngressParameters.k8s.example.com/p", "5h"},
		},
		{
			name: "ingress class with core parameters",
			gr:   net("ingressclasses"),
			obj: &networkingv1.IngressClass{ObjectMeta: meta,
				Spec: networkingv1.IngressClassSpec{Controller: "c", Parameters: &networkingv1.IngressClassParametersReference{Kind: "ConfigMap", Name: "cm"}}},
			want: []any{"x", "c", "ConfigMap/cm", "5h"},
		},
		{
			name: "network policy",
			gr:   net("networkpolicies"),
			obj:  &networkingv1.NetworkPolicy{ObjectMeta: meta, Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"role": "db"}}}},
			want: []any{"x", "role=db", "5h"},
		},
		{
			name: "network policy for all pods",
			gr:   net("networkpolicies"),
			obj:  &networkingv1.NetworkPolicy{ObjectMeta: meta},
			want: []any{"x", "<none>", "5h"},
		},
		{
			name: "service CIDR",
			gr:   net("servicecidrs"),
			obj:  &networkingv1.ServiceCIDR{ObjectMeta: meta, Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.43.0.0/16", "fd00:43::/112"}}},
			want: []any{"x", "10.43.0.0/16,fd00:43::/112", "5h"},
		},
		{
			name: "IP address of a service",
			gr:   net("ipaddresses"),
			obj: &networkingv1.IPAddress{ObjectMeta: meta, Spec: networkingv1.IPAddressSpec{
				ParentRef: &networkingv1.ParentReference{Resource: "services", Namespace: "default", Name: "kubernetes"}}},
			want: []any{"x", "services/default/kubernetes", "5h"},
		},
		{
			name: "IP address of a grouped cluster resource",
			gr:   net("ipaddresses"),
			obj: &networkingv1.IPAddress{ObjectMeta: meta, Spec: networkingv1.IPAddressSpec{
				ParentRef: &networkingv1.ParentReference{Group: "Example.com", Resource: "Gateways", Name: "gw"}}},
			want: []any{"x", "gateways.example.com/gw", "5h"},
		},
		{
			name: "endpoints with ports",
			gr:   endpoints,
			obj: &corev1.Endpoints{ObjectMeta: meta, Subsets: []corev1.EndpointSubset{{
				Addresses: addresses("10.42.0.5", "fd00::5"), Ports: []corev1.EndpointPort{{Port: 8080}}}}},
			want: []any{"x", "10.42.0.5:8080,[fd00::5]:8080", "5h"},
		},
		{
			name: "endpoints beyond three",
			gr:   endpoints,
			obj: &corev1.Endpoints{ObjectMeta: meta, Subsets: []corev1.EndpointSubset{
				{Addresses: addresses("10.42.0.5", "10.42.0.6"), Ports: []corev1.EndpointPort{{Port: 80}, {Port: 443}}},
				{Addresses: addresses("10.42.0.7")}}},
			want: []any{"x", "10.42.0.5:80,10.42.0.6:80,10.42.0.5:443 + 2 more...", "5h"},
		},
		{
			name: "headless endpoints and none",
			gr:   endpoints,
			obj:  &corev1.Endpoints{ObjectMeta: meta},
			want: []any{"x", "<none>", "5h"},
		},
		{
			name: "endpoint slice",
			gr:   slices,
			obj: &discoveryv1.EndpointSlice{ObjectMeta: meta, AddressType: discoveryv1.AddressTypeIPv4,
				Ports:     []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}, {Name: ptr.To("metrics")}, {}, {Port: ptr.To[int32](9090)}},
				Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.42.0.5"}}, {Addresses: []string{"10.42.0.6", "10.42.0.7"}}}},
			want: []any{"x", "IPv4", "80,metrics,* + 1 more...", "10.42.0.5,10.42.0.6,10.42.0.7", "5h"},
		},
		{
			name: "empty endpoint slice",
			gr:   slices,
			obj:  &discoveryv1.EndpointSlice{ObjectMeta: meta, AddressType: discoveryv1.AddressTypeFQDN},
			want: []any{"x", "FQDN", "<unset>", "<unset>", "5h"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectCells(t, serverCells(t, tt.gr, tt.obj), tt.want)
		})
	}
}

func TestEvents(t *testing.T) {
	pod := corev1.ObjectReference{Kind: "Pod", Name: "web-0", FieldPath: "spec.containers{nginx}"}
	tests := []struct {
		name   string
		gr     schema.GroupResource
		obj    runtime.Object
		want   []any
		narrow []any
	}{
		{
			name: "kubelet event",
			gr:   events,
			obj: &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web-0.1"}, InvolvedObject: pod, Type: "Normal", Reason: "Pulled",
				Message: "  Container image \"nginx\" already present on machine\n", Source: corev1.EventSource{Component: "kubelet", Host: "n1"},
				FirstTimestamp: ago(10 * time.Minute), LastTimestamp: ago(2 * time.Minute), Count: 4},
			want:   []any{"2m", "Normal", "Pulled", "pod/web-0", "spec.containers{nginx}", "kubelet, n1", `Container image "nginx" already present on machine`, "10m", int64(4), "web-0.1"},
			narrow: []any{"2m", "Normal", "Pulled", "pod/web-0", `Container image "nginx" already present on machine`},
		},
		{
			name: "new-style singleton event about a kind",
			gr:   events,
			obj: &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e"}, InvolvedObject: corev1.ObjectReference{Kind: "Node"}, Type: "Warning", Reason: "Rebooted",
				EventTime: metav1.NewMicroTime(time.Now().Add(-30 * time.Second)), ReportingController: "skiff.dev/kubelet", ReportingInstance: "n1"},
			want: []any{"30s", "Warning", "Rebooted", "node", "", "skiff.dev/kubelet, n1", "", "30s", int64(1), "e"},
		},
		{
			name: "series",
			gr:   events,
			obj: &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e"}, InvolvedObject: pod, Reason: "BackOff",
				EventTime: metav1.NewMicroTime(time.Now().Add(-time.Hour)), ReportingController: "kubelet",
				Series: &corev1.EventSeries{Count: 12, LastObservedTime: metav1.NewMicroTime(time.Now().Add(-5 * time.Second))}},
			want: []any{"5s", "", "BackOff", "pod/web-0", "spec.containers{nginx}", "kubelet", "", "60m", int64(12), "e"},
		},
		{
			name: "events.k8s.io event prints as its core event",
			gr:   schema.GroupResource{Group: "events.k8s.io", Resource: "events"},
			obj: &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e"}, Regarding: pod, Type: "Normal", Reason: "Scheduled",
				Note: "Successfully assigned default/web-0 to n1", EventTime: metav1.NewMicroTime(time.Now().Add(-3 * time.Minute)),
				ReportingController: "default-scheduler", ReportingInstance: "default-scheduler-n1", DeprecatedSource: corev1.EventSource{Component: "scheduler"}},
			want: []any{"3m", "Normal", "Scheduled", "pod/web-0", "spec.containers{nginx}", "scheduler, default-scheduler-n1", "Successfully assigned default/web-0 to n1", "3m", int64(1), "e"},
		},
		{
			name: "events.k8s.io series",
			gr:   schema.GroupResource{Group: "events.k8s.io", Resource: "events"},
			obj: &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e"}, Regarding: pod, Reason: "Unhealthy",
				DeprecatedFirstTimestamp: ago(20 * time.Minute), DeprecatedLastTimestamp: ago(time.Minute), DeprecatedCount: 3,
				Series: &eventsv1.EventSeries{Count: 9, LastObservedTime: metav1.NewMicroTime(time.Now().Add(-4 * time.Second))}},
			want: []any{"4s", "", "Unhealthy", "pod/web-0", "spec.containers{nginx}", "", "", "20m", int64(9), "e"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectCells(t, serverCells(t, tt.gr, tt.obj), tt.want)
			if tt.narrow != nil {
				expectCells(t, narrowCells(t, tt.obj)[0].Cells, tt.narrow)
			}
		})
	}
}
