package v1

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestImagePullPolicy(t *testing.T) {
	tests := []struct {
		image string
		want  corev1.PullPolicy
	}{
		{"nginx", corev1.PullAlways},
		{"nginx:latest", corev1.PullAlways},
		{"docker.io/library/nginx:latest", corev1.PullAlways},
		{"nginx:1.27", corev1.PullIfNotPresent},
		{"registry.local:5000/app", corev1.PullAlways},
		{"registry.local:5000/app:v2", corev1.PullIfNotPresent},
		{"nginx@sha256:" + sha, corev1.PullIfNotPresent},
		{"nginx:latest@sha256:" + sha, corev1.PullAlways},
		{"", corev1.PullIfNotPresent},
		{"Not A Reference", corev1.PullIfNotPresent},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			c := corev1.Container{Image: tt.image}
			SetDefaults_Container(&c)
			if c.ImagePullPolicy != tt.want {
				t.Errorf("imagePullPolicy = %q, want %q", c.ImagePullPolicy, tt.want)
			}
		})
	}
}

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestPodDefaults(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:  "app",
			Image: "nginx:1.27",
			Ports: []corev1.ContainerPort{{ContainerPort: 80}},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("500m"),
			}},
			LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)},
			}},
		}},
		Volumes: []corev1.Volume{
			{Name: "empty"},
			{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}},
			{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
			{Name: "img", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "busybox"}}},
			{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "ns", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
			}}}},
			{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}},
			{Name: "dapi", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{}}},
		},
		DeprecatedServiceAccount: "legacy",
	}}
	SetObjectDefaults_Pod(pod)

	spec := pod.Spec
	c := spec.Containers[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"restartPolicy", spec.RestartPolicy, corev1.RestartPolicyAlways},
		{"dnsPolicy", spec.DNSPolicy, corev1.DNSClusterFirst},
		{"schedulerName", spec.SchedulerName, "default-scheduler"},
		{"terminationGracePeriodSeconds", *spec.TerminationGracePeriodSeconds, int64(30)},
		{"securityContext", *spec.SecurityContext, corev1.PodSecurityContext{}},
		{"enableServiceLinks", *spec.EnableServiceLinks, true},
		{"serviceAccountName", spec.ServiceAccountName, "legacy"},
		{"imagePullPolicy", c.ImagePullPolicy, corev1.PullIfNotPresent},
		{"terminationMessagePath", c.TerminationMessagePath, "/dev/termination-log"},
		{"terminationMessagePolicy", c.TerminationMessagePolicy, corev1.TerminationMessageReadFile},
		{"port protocol", c.Ports[0].Protocol, corev1.ProtocolTCP},
		{"port hostPort", c.Ports[0].HostPort, int32(0)},
		{"cpu request from limit", c.Resources.Requests.Cpu().String(), "500m"},
		{"probe timeout", c.LivenessProbe.TimeoutSeconds, int32(1)},
		{"probe period", c.LivenessProbe.PeriodSeconds, int32(10)},
		{"probe success", c.LivenessProbe.SuccessThreshold, int32(1)},
		{"probe failure", c.LivenessProbe.FailureThreshold, int32(3)},
		{"httpGet path", c.LivenessProbe.HTTPGet.Path, "/"},
		{"httpGet scheme", c.LivenessProbe.HTTPGet.Scheme, corev1.URISchemeHTTP},
		{"httpGet protocol (H2CContainerProbe off)", c.LivenessProbe.HTTPGet.Protocol, (*corev1.HTTPProtocol)(nil)},
		{"volume emptyDir", spec.Volumes[0].EmptyDir != nil, true},
		{"secret defaultMode", *spec.Volumes[1].Secret.DefaultMode, int32(0o644)},
		{"configMap defaultMode", *spec.Volumes[2].ConfigMap.DefaultMode, int32(0o644)},
		{"image volume pullPolicy", spec.Volumes[3].Image.PullPolicy, corev1.PullAlways},
		{"projected defaultMode", *spec.Volumes[4].Projected.DefaultMode, int32(0o644)},
		{"token expiration", *spec.Volumes[4].Projected.Sources[0].ServiceAccountToken.ExpirationSeconds, int64(3600)},
		{"fieldRef apiVersion", spec.Volumes[4].Projected.Sources[1].DownwardAPI.Items[0].FieldRef.APIVersion, "v1"},
		{"hostPath type", *spec.Volumes[5].HostPath.Type, corev1.HostPathUnset},
		{"downwardAPI defaultMode", *spec.Volumes[6].DownwardAPI.DefaultMode, int32(0o644)},
	}
	for _, tt := range checks {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func TestPodDefaultsHostNetwork(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		HostNetwork:                   true,
		TerminationGracePeriodSeconds: ptr.To[int64](-5),
		Containers: []corev1.Container{{Ports: []corev1.ContainerPort{
			{ContainerPort: 8080}, {ContainerPort: 9090, HostPort: 9191},
		}}},
	}}
	SetObjectDefaults_Pod(pod)
	if got := pod.Spec.Containers[0].Ports[0].HostPort; got != 8080 {
		t.Errorf("hostPort = %d, want the container port 8080", got)
	}
	if got := pod.Spec.Containers[0].Ports[1].HostPort; got != 9191 {
		t.Errorf("explicit hostPort = %d, want 9191 kept", got)
	}
	if got := *pod.Spec.TerminationGracePeriodSeconds; got != 1 {
		t.Errorf("negative grace period became %d, want 1", got)
	}
}

func TestPodTemplateKeepsRequests(t *testing.T) {
	tmpl := &corev1.PodTemplate{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
		}}},
	}}}
	SetObjectDefaults_PodTemplate(tmpl)
	if r := tmpl.Template.Spec.Containers[0].Resources.Requests; r != nil {
		t.Errorf("template got requests %v; only Pods copy limits to requests", r)
	}
	if tmpl.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("template spec not defaulted: restartPolicy %q", tmpl.Template.Spec.RestartPolicy)
	}
	if tmpl.Template.Spec.EnableServiceLinks != nil {
		t.Errorf("template got enableServiceLinks; only Pods get it")
	}
}

func TestPodStatusIPs(t *testing.T) {
	tests := []struct {
		name   string
		in     corev1.PodStatus
		wantIP string
		wantN  int
	}{
		{"only podIP", corev1.PodStatus{PodIP: "10.0.0.1"}, "10.0.0.1", 1},
		{"only podIPs", corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "10.0.0.2"}, {IP: "fd00::2"}}}, "10.0.0.2", 2},
		{"mismatch: podIP wins", corev1.PodStatus{PodIP: "10.0.0.3", PodIPs: []corev1.PodIP{{IP: "10.0.0.4"}, {IP: "fd00::4"}}}, "10.0.0.3", 1},
		{"neither", corev1.PodStatus{}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.in
			SetDefaults_PodStatus(&st)
			if st.PodIP != tt.wantIP || len(st.PodIPs) != tt.wantN || (tt.wantN > 0 && st.PodIPs[0].IP != tt.wantIP) {
				t.Errorf("got podIP %q podIPs %v", st.PodIP, st.PodIPs)
			}
		})
	}
}

func TestServiceDefaults(t *testing.T) {
	tests := []struct {
		name  string
		svc   corev1.Service
		check func(t *testing.T, s *corev1.Service)
	}{
		{
			name: "cluster IP",
			svc: corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
				{Port: 80}, {Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")},
			}}},
			check: func(t *testing.T, s *corev1.Service) {
				if s.Spec.Type != corev1.ServiceTypeClusterIP || s.Spec.SessionAffinity != corev1.ServiceAffinityNone {
					t.Errorf("type %q affinity %q", s.Spec.Type, s.Spec.SessionAffinity)
				}
				if p := s.Spec.Ports[0]; p.Protocol != corev1.ProtocolTCP || p.TargetPort != intstr.FromInt32(80) {
					t.Errorf("port 0: %+v", p)
				}
				if p := s.Spec.Ports[1]; p.Protocol != corev1.ProtocolUDP || p.TargetPort != intstr.FromString("dns") {
					t.Errorf("port 1: %+v", p)
				}
				if s.Spec.ExternalTrafficPolicy != "" {
					t.Errorf("externalTrafficPolicy %q on an internal service", s.Spec.ExternalTrafficPolicy)
				}
				if p := s.Spec.InternalTrafficPolicy; p == nil || *p != corev1.ServiceInternalTrafficPolicyCluster {
					t.Errorf("internalTrafficPolicy %v", p)
				}
				if s.Spec.IPFamilyPolicy != nil {
					t.Errorf("ipFamilyPolicy defaulted; the registry owns it")
				}
			},
		},
		{
			name: "load balancer",
			svc: corev1.Service{
				Spec:   corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, SessionAffinity: corev1.ServiceAffinityClientIP},
				Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "1.2.3.4"}, {Hostname: "lb"}}}},
			},
			check: func(t *testing.T, s *corev1.Service) {
				if s.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster {
					t.Errorf("externalTrafficPolicy %q", s.Spec.ExternalTrafficPolicy)
				}
				if !ptr.Deref(s.Spec.AllocateLoadBalancerNodePorts, false) {
					t.Errorf("allocateLoadBalancerNodePorts not true")
				}
				if got := *s.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds; got != 10800 {
					t.Errorf("clientIP timeout %d", got)
				}
				ing := s.Status.LoadBalancer.Ingress
				if ing[0].IPMode == nil || *ing[0].IPMode != corev1.LoadBalancerIPModeVIP || ing[1].IPMode != nil {
					t.Errorf("ipMode %v %v", ing[0].IPMode, ing[1].IPMode)
				}
			},
		},
		{
			name: "external name",
			svc:  corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName}},
			check: func(t *testing.T, s *corev1.Service) {
				if s.Spec.InternalTrafficPolicy != nil || s.Spec.ExternalTrafficPolicy != "" {
					t.Errorf("traffic policies set on ExternalName: %v %q", s.Spec.InternalTrafficPolicy, s.Spec.ExternalTrafficPolicy)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := tt.svc
			SetObjectDefaults_Service(&svc)
			tt.check(t, &svc)
		})
	}
}

func TestOtherCoreDefaults(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}
	SetObjectDefaults_Namespace(ns)
	if ns.Status.Phase != corev1.NamespaceActive || ns.Labels[corev1.LabelMetadataName] != "team-a" {
		t.Errorf("namespace: phase %q labels %v", ns.Status.Phase, ns.Labels)
	}

	secret := &corev1.Secret{}
	SetObjectDefaults_Secret(secret)
	if secret.Type != corev1.SecretTypeOpaque {
		t.Errorf("secret type %q", secret.Type)
	}

	pv := &corev1.PersistentVolume{}
	SetObjectDefaults_PersistentVolume(pv)
	if pv.Status.Phase != corev1.VolumePending || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain ||
		*pv.Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
		t.Errorf("pv: %+v %+v", pv.Status, pv.Spec)
	}

	pvc := &corev1.PersistentVolumeClaim{}
	SetObjectDefaults_PersistentVolumeClaim(pvc)
	if pvc.Status.Phase != corev1.ClaimPending || *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
		t.Errorf("pvc: %+v", pvc)
	}

	node := &corev1.Node{Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")}}}
	SetObjectDefaults_Node(node)
	if got := node.Status.Allocatable.Pods().Value(); got != 110 {
		t.Errorf("allocatable pods %d, want capacity 110", got)
	}

	rc := &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{
		Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}}},
	}}
	SetObjectDefaults_ReplicationController(rc)
	if *rc.Spec.Replicas != 1 || rc.Spec.Selector["app"] != "x" || rc.Labels["app"] != "x" {
		t.Errorf("rc: replicas %v selector %v labels %v", rc.Spec.Replicas, rc.Spec.Selector, rc.Labels)
	}

	lr := &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type: corev1.LimitTypeContainer,
		Max:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
		Min:  corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
	}}}}
	SetObjectDefaults_LimitRange(lr)
	item := lr.Spec.Limits[0]
	if item.Default.Cpu().String() != "2" || item.DefaultRequest.Cpu().String() != "2" || item.DefaultRequest.Memory().String() != "64Mi" {
		t.Errorf("limit range: default %v defaultRequest %v", item.Default, item.DefaultRequest)
	}

	ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}}
	SetObjectDefaults_Endpoints(ep)
	if ep.Subsets[0].Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("endpoint port protocol %q", ep.Subsets[0].Ports[0].Protocol)
	}

	quota := &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1.0001")}}}
	SetObjectDefaults_ResourceQuota(quota)
	if got := quota.Spec.Hard.Cpu().String(); got != "1001m" {
		t.Errorf("quantity rounded to %s, want 1001m", got)
	}
}
