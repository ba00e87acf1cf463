package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// errStrings renders errors the way the API server puts them in a Status.
func errStrings(errs field.ErrorList) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

// expectErrors checks that errs is exactly want, in order.
func expectErrors(t *testing.T, errs field.ErrorList, want ...string) {
	t.Helper()
	got := errStrings(errs)
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n  got:  %q\n  want: %q", len(got), len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("error %d:\n  got:  %s\n  want: %s", i, got[i], want[i])
		}
	}
}

// expectErrorPrefixes checks errors by prefix, for messages with long tails.
func expectErrorPrefixes(t *testing.T, errs field.ErrorList, want ...string) {
	t.Helper()
	got := errStrings(errs)
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n  got:  %q\n  want: %q", len(got), len(want), got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d:\n  got:  %s\n  want prefix: %s", i, got[i], want[i])
		}
	}
}

// validContainer is a container as defaulting leaves it.
func validContainer(name string) corev1.Container {
	return corev1.Container{
		Name:                     name,
		Image:                    "nginx",
		ImagePullPolicy:          corev1.PullIfNotPresent,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
	}
}

func validPodSpec() corev1.PodSpec {
	return corev1.PodSpec{
		Containers:                    []corev1.Container{validContainer("app")},
		RestartPolicy:                 corev1.RestartPolicyAlways,
		DNSPolicy:                     corev1.DNSClusterFirst,
		TerminationGracePeriodSeconds: ptr.To[int64](30),
		SchedulerName:                 corev1.DefaultSchedulerName,
		SecurityContext:               &corev1.PodSecurityContext{},
	}
}

func validPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       validPodSpec(),
	}
}

func TestValidateObjectMeta(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"valid", func(*corev1.Pod) {}, nil},
		{"missing name", func(p *corev1.Pod) { p.Name = "" }, []string{"metadata.name: Required value: name or generateName is required"}},
		{"upper case name", func(p *corev1.Pod) { p.Name = "Foo" }, []string{
			`metadata.name: Invalid value: "Foo": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
		}},
		{"missing namespace", func(p *corev1.Pod) { p.Namespace = "" }, []string{"metadata.namespace: Required value"}},
		{"bad label", func(p *corev1.Pod) { p.Labels = map[string]string{"a b": "x"} }, []string{
			`metadata.labels: Invalid value: "a b": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
		}},
		{"annotations too big", func(p *corev1.Pod) { p.Annotations = map[string]string{"a": strings.Repeat("x", 256*1024)} }, []string{
			"metadata.annotations: Too long: may not be more than 262144 bytes",
		}},
		{"unqualified finalizer", func(p *corev1.Pod) { p.Finalizers = []string{"foo"} }, []string{
			`metadata.finalizers[0]: Invalid value: "foo": name is neither a standard finalizer name nor is it fully qualified`,
		}},
		{"owner reference without uid", func(p *corev1.Pod) {
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs"}}
		}, []string{"metadata.ownerReferences[0].uid: Required value: must not be empty"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validPod()
			tc.mutate(p)
			expectErrors(t, ValidateObject(p), tc.want...)
		})
	}
}

func TestValidateNamespace(t *testing.T) {
	tests := []struct {
		name string
		ns   *corev1.Namespace
		want []string
	}{
		{"valid", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, nil},
		{"dots are not a DNS label", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team.a"}}, []string{
			`metadata.name: Invalid value: "team.a": must not contain dots`,
		}},
		{"cluster scoped", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "b"}}, []string{
			"metadata.namespace: Forbidden: not allowed on this type",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { expectErrors(t, ValidateObject(tc.ns), tc.want...) })
	}

	t.Run("status phase", func(t *testing.T) {
		old := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", ResourceVersion: "1"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
		ns := old.DeepCopy()
		ns.Status.Phase = corev1.NamespaceTerminating
		expectErrors(t, ValidateStatusUpdate(ns, old), `status.Phase: Invalid value: "Terminating": may only be 'Active' if `+"`deletionTimestamp`"+` is empty`)
	})
	t.Run("update needs resourceVersion", func(t *testing.T) {
		old := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", ResourceVersion: "1"}}
		ns := old.DeepCopy()
		ns.ResourceVersion = ""
		expectErrors(t, ValidateObjectUpdate(ns, old), `metadata.resourceVersion: Invalid value: "": must be specified for an update`)
	})
}

func TestValidatePodCreate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"valid", func(*corev1.Pod) {}, nil},
		{"container name required", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "" }, []string{"spec.containers[0].name: Required value"}},
		{"image required", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, []string{"spec.containers[0].image: Required value"}},
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil }, []string{"spec.containers: Required value"}},
		{"duplicate across init and regular", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{validContainer("app")}
		}, []string{`spec.initContainers[0].name: Duplicate value: "app"`}},
		{"image whitespace", func(p *corev1.Pod) { p.Spec.Containers[0].Image = " nginx" }, []string{
			`spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace`,
		}},
		{"port out of range", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 70000, Protocol: corev1.ProtocolTCP}}
		}, []string{"spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
		{"bad protocol and duplicate port name", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{
				{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP},
				{Name: "http", ContainerPort: 81, Protocol: "ICMP"},
			}
		}, []string{
			`spec.containers[0].ports[1].name: Duplicate value: "http"`,
			`spec.containers[0].ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`,
		}},
		{"env name required", func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Value: "x"}} }, []string{
			"spec.containers[0].env[0].name: Required value",
		}},
		{"volume mount of unknown volume", func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}, []string{`spec.containers[0].volumeMounts[0].name: Not found: "data"`}},
		{"volume without source", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data"}}
		}, []string{"spec.volumes[0]: Required value: must specify a volume type"}},
		{"volume with two sources", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				EmptyDir: &corev1.EmptyDirVolumeSource{},
				HostPath: &corev1.HostPathVolumeSource{Path: "/x"},
			}}}
		}, []string{"spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"}},
		{"requests above limits", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
			}
		}, []string{`spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1`}},
		{"negative quantity", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("-1")}
		}, []string{`spec.containers[0].resources.requests[memory]: Invalid value: "-1": must be greater than or equal to 0`}},
		{"unknown restart policy", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, []string{
			`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`,
		}},
		{"missing dns policy", func(p *corev1.Pod) { p.Spec.DNSPolicy = "" }, []string{"spec.dnsPolicy: Required value"}},
		{"liveness probe success threshold", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{
				ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstrFromInt(80)}},
				SuccessThreshold: 2, FailureThreshold: 3, PeriodSeconds: 10, TimeoutSeconds: 1,
			}
		}, []string{"spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"}},
		{"probe without handler", func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{SuccessThreshold: 1, FailureThreshold: 3, PeriodSeconds: 10, TimeoutSeconds: 1}
		}, []string{"spec.containers[0].readinessProbe: Required value: must specify a handler type"}},
		{"runAsUser negative", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To[int64](-1)}
		}, []string{"spec.containers[0].securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive"}},
		{"bad node selector", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"k": "bad value"} }, []string{
			`spec.nodeSelector: Invalid value: "bad value": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
		}},
		{"toleration operator", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: "Maybe"}}
		}, []string{`spec.tolerations[0].operator: Unsupported value: "Maybe": supported values: "Equal", "Exists"`}},
		{"toleration seconds without NoExecute", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: ptr.To[int64](5)}}
		}, []string{`spec.tolerations[0].effect: Invalid value: "NoSchedule": effect must be 'NoExecute' when ` + "`tolerationSeconds`" + ` is set`}},
		{"hostname must be a label", func(p *corev1.Pod) { p.Spec.Hostname = "a.b" }, []string{
			`spec.hostname: Invalid value: "a.b": must not contain dots`,
		}},
		{"active deadline zero", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](0) }, []string{
			"spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
		}},
		{"node affinity without terms", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{}}}
		}, []string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: must have at least one node selector term"}},
		{"pod anti-affinity without topology key", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			}}}}
		}, []string{
			"spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty",
			`spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Invalid value: "": name part must be non-empty`,
			`spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Invalid value: "": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
		}},
		{"ephemeral containers on create", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon(validContainer("debug"))}}
		}, []string{"spec.ephemeralContainers: Forbidden: cannot be set on create"}},
		{"deprecated service account must match", func(p *corev1.Pod) { p.Spec.ServiceAccountName = "sa" }, []string{
			`spec.deprecatedServiceAccount: Invalid value: "": must be the same as serviceAccountName: "sa"`,
		}},
		{"termination grace period required", func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = nil }, []string{
			"spec.terminationGracePeriodSeconds: Required value",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validPod()
			tc.mutate(p)
			expectErrors(t, ValidateObject(p), tc.want...)
		})
	}
}

func TestValidatePodUpdate(t *testing.T) {
	old := validPod()
	old.ResourceVersion = "1"
	old.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](10)}}

	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
		prefix bool
	}{
		{"image change allowed", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:2" }, nil, false},
		{"toleration seconds may change", func(p *corev1.Pod) { p.Spec.Tolerations[0].TolerationSeconds = ptr.To[int64](20) }, nil, false},
		{"tolerations may be added", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "x", Operator: corev1.TolerationOpExists})
		}, nil, false},
		{"tolerations may not be removed", func(p *corev1.Pod) { p.Spec.Tolerations = nil }, []string{
			"spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds",
		}, false},
		{"active deadline may not grow", func(p *corev1.Pod) {
			p.Spec.ActiveDeadlineSeconds = ptr.To[int64](10)
		}, nil, false},
		{"containers may not be added", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, validContainer("side"))
		}, []string{"spec.containers: Forbidden: pod updates may not add or remove containers"}, false},
		{"other spec change", func(p *corev1.Pod) { p.Spec.Containers[0].Args = []string{"-v"} }, []string{
			"spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n",
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := old.DeepCopy()
			tc.mutate(p)
			errs := ValidateObjectUpdate(p, old)
			if tc.prefix {
				expectErrorPrefixes(t, errs, tc.want...)
			} else {
				expectErrors(t, errs, tc.want...)
			}
		})
	}

	t.Run("active deadline", func(t *testing.T) {
		o := old.DeepCopy()
		o.Spec.ActiveDeadlineSeconds = ptr.To[int64](10)
		p := o.DeepCopy()
		p.Spec.ActiveDeadlineSeconds = ptr.To[int64](20)
		expectErrors(t, ValidateObjectUpdate(p, o), "spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value")
		p.Spec.ActiveDeadlineSeconds = nil
		expectErrors(t, ValidateObjectUpdate(p, o), "spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value")
	})

	t.Run("diff names the changed field", func(t *testing.T) {
		p := old.DeepCopy()
		p.Spec.Containers[0].WorkingDir = "/srv"
		errs := ValidateObjectUpdate(p, old)
		if len(errs) != 1 {
			t.Fatalf("got %v", errs)
		}
		for _, want := range []string{"\n-   \"WorkingDir\": \"\",\n", "\n+   \"WorkingDir\": \"/srv\",\n", "\n    \"Args\": null,\n"} {
			if !strings.Contains(errs[0].Detail, want) {
				t.Errorf("diff lacks %q:\n%s", want, errs[0].Detail)
			}
		}
	})
}

func TestValidatePodStatusUpdate(t *testing.T) {
	old := validPod()
	old.ResourceVersion = "1"
	old.Spec.NodeName = "node-1"
	old.Spec.RestartPolicy = corev1.RestartPolicyNever
	old.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}}

	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"ips", func(p *corev1.Pod) {
			p.Status.PodIP = "10.0.0.1"
			p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.1"}}
		}, nil},
		{"podIP without podIPs", func(p *corev1.Pod) { p.Status.PodIP = "10.0.0.1" }, []string{
			"status.podIPs: Invalid value: null: podIP and podIPs must either both be set or both be unset",
		}},
		{"terminated container restarted", func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
		}, []string{"status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state"}},
		{"custom condition type", func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: "bad type", Status: corev1.ConditionTrue}}
		}, []string{
			`status.conditions[0].Type: Invalid value: "bad type": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := old.DeepCopy()
			tc.mutate(p)
			expectErrors(t, ValidateStatusUpdate(p, old), tc.want...)
		})
	}
}

func TestValidatePodEphemeralContainersUpdate(t *testing.T) {
	old := validPod()
	old.ResourceVersion = "1"
	p := old.DeepCopy()
	ec := corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon(validContainer("debug")), TargetContainerName: "app"}
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{ec}
	expectErrors(t, ValidatePodEphemeralContainersUpdate(p, old))

	bad := p.DeepCopy()
	bad.Spec.EphemeralContainers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}}
	bad.Spec.EphemeralContainers[0].TargetContainerName = "nope"
	expectErrors(t, ValidatePodEphemeralContainersUpdate(bad, old),
		`spec.ephemeralContainers[0].targetContainerName: Not found: "nope"`,
		"spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container",
	)
}

func TestUnknownTypeGetsMetadataOnly(t *testing.T) {
	var obj runtime.Object = &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "Bad_Name"}}
	errs := ValidateObject(obj)
	if len(errs) != 1 || errs[0].Field != "metadata.name" {
		t.Fatalf("got %v", errs)
	}
}

func intstrFromInt(i int) intstr.IntOrString { return intstr.FromInt32(int32(i)) }
