package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

func validService() *corev1.Service {
	cluster := corev1.ServiceInternalTrafficPolicyCluster
	single := corev1.IPFamilyPolicySingleStack
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "1"},
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeClusterIP,
			Selector:              map[string]string{"app": "web"},
			Ports:                 []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
			SessionAffinity:       corev1.ServiceAffinityNone,
			InternalTrafficPolicy: &cluster,
			ClusterIP:             "10.43.0.10",
			ClusterIPs:            []string{"10.43.0.10"},
			IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
			IPFamilyPolicy:        &single,
		},
	}
}

func TestValidateService(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.Service)
		want   []string
	}{
		{"valid", func(*corev1.Service) {}, nil},
		{"ports required", func(s *corev1.Service) { s.Spec.Ports = nil }, []string{"spec.ports: Required value"}},
		{"headless needs no ports", func(s *corev1.Service) {
			s.Spec.Ports = nil
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "None", []string{"None"}
		}, nil},
		{"names required with two ports", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "b", Port: 81, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(81)})
		}, []string{"spec.ports[0].name: Required value"}},
		{"duplicate port names", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{
				{Name: "a", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)},
				{Name: "a", Port: 81, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(81)},
			}
		}, []string{`spec.ports[1].name: Duplicate value: "a"`}},
		{"port out of range", func(s *corev1.Service) { s.Spec.Ports[0].Port = 0 }, []string{
			"spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
		}},
		{"bad target port name", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("Bad_Name") }, []string{
			`spec.ports[0].targetPort: Invalid value: "Bad_Name": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`,
		}},
		{"unknown type", func(s *corev1.Service) { s.Spec.Type = "Magic" }, []string{
			`spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`,
		}},
		{"externalName required", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.IPFamilies, s.Spec.IPFamilyPolicy = "", nil, nil, nil
		}, []string{"spec.externalName: Required value"}},
		{"clusterIPs must match clusterIP", func(s *corev1.Service) { s.Spec.ClusterIPs = []string{"10.43.0.11"} }, []string{
			`spec.clusterIPs: Invalid value: ["10.43.0.11"]: first value must match ` + "`clusterIP`",
		}},
		{"family mismatch", func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} }, []string{
			`spec.clusterIPs[0]: Invalid value: "10.43.0.10": expected an IPv6 value as indicated by ` + "`ipFamilies[0]`",
		}},
		{"session affinity", func(s *corev1.Service) { s.Spec.SessionAffinity = "Sticky" }, []string{
			`spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"`,
		}},
		{"client IP affinity needs config", func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP }, []string{
			"spec.sessionAffinityConfig: Required value: when session affinity type is ClientIP",
		}},
		{"external traffic policy on ClusterIP", func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }, []string{
			`spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services`,
		}},
		{"NodePort needs external traffic policy", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort }, []string{
			"spec.externalTrafficPolicy: Required value",
		}},
		{"node port on ClusterIP", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30001 }, []string{
			"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
		}},
		{"selector labels", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "a b"} }, []string{
			`spec.selector: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
		}},
		{"load balancer needs allocateLoadBalancerNodePorts", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		}, []string{"allocateLoadBalancerNodePorts: Required value"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validService()
			tc.mutate(s)
			expectErrors(t, ValidateObject(s), tc.want...)
		})
	}

	t.Run("DNS label names allowed", func(t *testing.T) {
		s := validService()
		s.Name = "1web"
		expectErrors(t, ValidateObject(s))
	})

	t.Run("clusterIP may not change", func(t *testing.T) {
		old := validService()
		s := old.DeepCopy()
		s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.11", []string{"10.43.0.11"}
		expectErrors(t, ValidateObjectUpdate(s, old), `spec.clusterIPs[0]: Invalid value: ["10.43.0.11"]: may not change once set`)
	})
	t.Run("switching to ExternalName frees the clusterIP", func(t *testing.T) {
		old := validService()
		s := old.DeepCopy()
		s.Spec.Type = corev1.ServiceTypeExternalName
		s.Spec.ExternalName = "example.com"
		s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.IPFamilies, s.Spec.IPFamilyPolicy, s.Spec.InternalTrafficPolicy = "", nil, nil, nil, nil
		expectErrors(t, ValidateObjectUpdate(s, old))
	})
	t.Run("load balancer status needs ipMode", func(t *testing.T) {
		old := validService()
		old.Spec.Type = corev1.ServiceTypeLoadBalancer
		old.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		old.Spec.AllocateLoadBalancerNodePorts = ptr.To(true)
		s := old.DeepCopy()
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}}
		expectErrors(t, ValidateStatusUpdate(s, old), "status.loadBalancer.ingress[0].ipMode: Required value: must be specified when `ip` is set")
	})
}

func TestValidateEndpoints(t *testing.T) {
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.42.0.5"}},
			Ports:     []corev1.EndpointPort{{Port: 80, Protocol: corev1.ProtocolTCP}},
		}},
	}
	expectErrors(t, ValidateObject(ep))
	ep.Subsets[0].Addresses[0].IP = "127.0.0.1"
	expectErrors(t, ValidateObject(ep), `subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)`)
}

func TestValidateConfigMapAndSecret(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default", ResourceVersion: "1"}, Data: map[string]string{"a.txt": "x"}}
	expectErrors(t, ValidateObject(cm))
	bad := cm.DeepCopy()
	bad.Data["bad/key"] = "y"
	expectErrors(t, ValidateObject(bad), `data[bad/key]: Invalid value: "bad/key": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`)
	big := cm.DeepCopy()
	big.Data["a.txt"] = strings.Repeat("x", maxSecretSize+1)
	expectErrors(t, ValidateObject(big), "[]: Too long: may not be more than 1048576 bytes")

	immutable := cm.DeepCopy()
	immutable.Immutable = ptr.To(true)
	changed := immutable.DeepCopy()
	changed.Data["a.txt"] = "z"
	expectErrors(t, ValidateObjectUpdate(changed, immutable), "data: Forbidden: field is immutable when `immutable` is set")

	tls := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: "default", ResourceVersion: "1"}, Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("x")}}
	expectErrors(t, ValidateObject(tls), "data[tls.key]: Required value")
	tls.StringData = map[string]string{"tls.key": "k"}
	expectErrors(t, ValidateObject(tls))

	dc := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: "default"}, Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{".dockerconfigjson": []byte("nope")}}
	expectErrors(t, ValidateObject(dc), `data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": invalid character 'o' in literal null (expecting 'u')`)

	opaque := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default", ResourceVersion: "1"}, Type: corev1.SecretTypeOpaque}
	typed := opaque.DeepCopy()
	typed.Type = corev1.SecretTypeBasicAuth
	typed.Data = map[string][]byte{"username": []byte("u")}
	expectErrors(t, ValidateObjectUpdate(typed, opaque), `type: Invalid value: "kubernetes.io/basic-auth": field is immutable`)
}

func TestValidateReplicationController(t *testing.T) {
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "rc", Namespace: "default"},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: ptr.To[int32](1),
			Selector: map[string]string{"app": "web"},
			Template: ptr.To(validTemplate()),
		},
	}
	expectErrors(t, ValidateObject(rc))
	rc.Spec.Replicas = ptr.To[int32](-1)
	expectErrors(t, ValidateObject(rc), "spec.replicas: Invalid value: -1: must be greater than or equal to 0")
	rc.Spec.Replicas = ptr.To[int32](1)
	rc.Spec.Selector = nil
	expectErrors(t, ValidateObject(rc), "spec.selector: Required value")
}

func TestValidatePersistentVolumeClaim(t *testing.T) {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default", ResourceVersion: "1"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: mustQuantity("1Gi")}},
			VolumeMode:  ptr.To(corev1.PersistentVolumeFilesystem),
		},
	}
	expectErrors(t, ValidateObject(pvc))
	noSize := pvc.DeepCopy()
	noSize.Spec.Resources.Requests = nil
	expectErrors(t, ValidateObject(noSize), "spec.resources[storage]: Required value")

	bound := pvc.DeepCopy()
	bound.Spec.VolumeName = "pv-1"
	expectErrors(t, ValidateObjectUpdate(bound, pvc))
	changed := bound.DeepCopy()
	changed.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
	errs := ValidateObjectUpdate(changed, bound)
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims") {
		t.Fatalf("got %v", errs)
	}
}

func TestValidatePersistentVolume(t *testing.T) {
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-1"},
		Spec: corev1.PersistentVolumeSpec{
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: mustQuantity("1Gi")},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data"}},
		},
	}
	expectErrors(t, ValidateObject(pv))
	none := pv.DeepCopy()
	none.Spec.HostPath = nil
	expectErrors(t, ValidateObject(none), "spec: Required value: must specify a volume type")
	local := pv.DeepCopy()
	local.Spec.HostPath = nil
	local.Spec.Local = &corev1.LocalVolumeSource{Path: "/mnt"}
	expectErrors(t, ValidateObject(local), "spec.nodeAffinity: Required value: Local volume requires node affinity")
}
