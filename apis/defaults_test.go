package apis

import (
	"net/url"
	"reflect"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
)

// decode decodes JSON to the internal version, as the API server does for a
// request body, and defaults the result again as the test brief asks.
func decode(t *testing.T, body string) runtime.Object {
	t.Helper()
	obj, err := runtime.Decode(Codecs.UniversalDecoder(), []byte(body))
	if err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	Scheme.Default(obj)
	return obj
}

func TestDecodedPodIsDefaulted(t *testing.T) {
	pod, ok := decode(t, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
		"spec":{"containers":[{"name":"web","image":"nginx","ports":[{"containerPort":80}]}],
		"volumes":[{"name":"s","secret":{"secretName":"x"}},{"name":"e"}]}}`).(*corev1.Pod)
	if !ok {
		t.Fatalf("decoded %T, want *v1.Pod", pod)
	}
	c := pod.Spec.Containers[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"restartPolicy", pod.Spec.RestartPolicy, corev1.RestartPolicyAlways},
		{"dnsPolicy", pod.Spec.DNSPolicy, corev1.DNSClusterFirst},
		{"schedulerName", pod.Spec.SchedulerName, corev1.DefaultSchedulerName},
		{"terminationGracePeriodSeconds", pod.Spec.TerminationGracePeriodSeconds, ptr.To[int64](30)},
		{"securityContext", pod.Spec.SecurityContext, &corev1.PodSecurityContext{}},
		{"enableServiceLinks", pod.Spec.EnableServiceLinks, ptr.To(true)},
		{"terminationMessagePath", c.TerminationMessagePath, "/dev/termination-log"},
		{"terminationMessagePolicy", c.TerminationMessagePolicy, corev1.TerminationMessageReadFile},
		{"imagePullPolicy", c.ImagePullPolicy, corev1.PullAlways},
		{"port protocol", c.Ports[0].Protocol, corev1.ProtocolTCP},
		{"secret defaultMode", pod.Spec.Volumes[0].Secret.DefaultMode, ptr.To[int32](0o644)},
		{"emptyDir", pod.Spec.Volumes[1].EmptyDir, &corev1.EmptyDirVolumeSource{}},
		// Phase and QoS class belong to the registry strategy.
		{"no phase", pod.Status.Phase, corev1.PodPhase("")},
		{"no qosClass", pod.Status.QOSClass, corev1.PodQOSClass("")},
	}
	for _, tt := range checks {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func TestDecodedObjectsAreDefaulted(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, obj runtime.Object)
	}{
		{
			name: "deployment",
			body: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},
				"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"nginx:1.27"}]}}}}`,
			check: func(t *testing.T, obj runtime.Object) {
				d := obj.(*appsv1.Deployment)
				ru := d.Spec.Strategy.RollingUpdate
				if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType ||
					*ru.MaxSurge != intstr.FromString("25%") || *ru.MaxUnavailable != intstr.FromString("25%") ||
					*d.Spec.RevisionHistoryLimit != 10 || *d.Spec.ProgressDeadlineSeconds != 600 {
					t.Errorf("spec %+v", d.Spec)
				}
				tmpl := d.Spec.Template.Spec
				if tmpl.RestartPolicy != corev1.RestartPolicyAlways || tmpl.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent {
					t.Errorf("template not defaulted: %+v", tmpl)
				}
			},
		},
		{
			name: "service",
			body: `{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":8080}]}}`,
			check: func(t *testing.T, obj runtime.Object) {
				p := obj.(*corev1.Service).Spec.Ports[0]
				if p.Protocol != corev1.ProtocolTCP || p.TargetPort != intstr.FromInt32(8080) {
					t.Errorf("port %+v", p)
				}
			},
		},
		{
			name: "statefulset",
			body: `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"s"},"spec":{}}`,
			check: func(t *testing.T, obj runtime.Object) {
				s := obj.(*appsv1.StatefulSet).Spec
				ru := s.UpdateStrategy.RollingUpdate
				if s.PodManagementPolicy != appsv1.OrderedReadyPodManagement || *ru.Partition != 0 || *ru.MaxUnavailable != intstr.FromInt32(1) ||
					s.PersistentVolumeClaimRetentionPolicy.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
					t.Errorf("spec %+v", s)
				}
			},
		},
		{
			name: "daemonset",
			body: `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"d"},"spec":{}}`,
			check: func(t *testing.T, obj runtime.Object) {
				ru := obj.(*appsv1.DaemonSet).Spec.UpdateStrategy.RollingUpdate
				if *ru.MaxUnavailable != intstr.FromInt32(1) || *ru.MaxSurge != intstr.FromInt32(0) {
					t.Errorf("rollingUpdate %+v", ru)
				}
			},
		},
		{
			name: "job",
			body: `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"spec":{"template":{"metadata":{"labels":{"x":"y"}}}}}`,
			check: func(t *testing.T, obj runtime.Object) {
				j := obj.(*batchv1.Job)
				if *j.Spec.Completions != 1 || *j.Spec.Parallelism != 1 || *j.Spec.BackoffLimit != 6 ||
					*j.Spec.CompletionMode != batchv1.NonIndexedCompletion || *j.Spec.PodReplacementPolicy != batchv1.TerminatingOrFailed ||
					j.Labels["x"] != "y" {
					t.Errorf("job %+v", j)
				}
			},
		},
		{
			name: "cronjob",
			body: `{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"c"},"spec":{"schedule":"* * * * *"}}`,
			check: func(t *testing.T, obj runtime.Object) {
				s := obj.(*batchv1.CronJob).Spec
				if s.ConcurrencyPolicy != batchv1.AllowConcurrent || *s.SuccessfulJobsHistoryLimit != 3 || *s.FailedJobsHistoryLimit != 1 {
					t.Errorf("spec %+v", s)
				}
			},
		},
		{
			name: "namespace",
			body: `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team"}}`,
			check: func(t *testing.T, obj runtime.Object) {
				ns := obj.(*corev1.Namespace)
				if ns.Status.Phase != corev1.NamespaceActive || ns.Labels["kubernetes.io/metadata.name"] != "team" {
					t.Errorf("namespace %+v", ns)
				}
			},
		},
		{
			name: "network policy",
			body: `{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"n"},"spec":{"egress":[{"ports":[{"port":53}]}]}}`,
			check: func(t *testing.T, obj runtime.Object) {
				s := obj.(*networkingv1.NetworkPolicy).Spec
				want := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
				if !reflect.DeepEqual(s.PolicyTypes, want) || *s.Egress[0].Ports[0].Protocol != corev1.ProtocolTCP {
					t.Errorf("spec %+v", s)
				}
			},
		},
		{
			name: "role binding subjects",
			body: `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"r"},
				"roleRef":{"kind":"Role","name":"x"},"subjects":[{"kind":"User","name":"u"},{"kind":"ServiceAccount","name":"sa"}]}`,
			check: func(t *testing.T, obj runtime.Object) {
				rb := obj.(*rbacv1.RoleBinding)
				if rb.RoleRef.APIGroup != rbacv1.GroupName || rb.Subjects[0].APIGroup != rbacv1.GroupName || rb.Subjects[1].APIGroup != "" {
					t.Errorf("binding %+v", rb)
				}
			},
		},
		{
			name: "storage class",
			body: `{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"s"},"provisioner":"p"}`,
			check: func(t *testing.T, obj runtime.Object) {
				sc := obj.(*storagev1.StorageClass)
				if *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete || *sc.VolumeBindingMode != storagev1.VolumeBindingImmediate {
					t.Errorf("storage class %+v", sc)
				}
			},
		},
		{
			name: "validating webhook",
			body: `{"apiVersion":"admissionregistration.k8s.io/v1","kind":"ValidatingWebhookConfiguration","metadata":{"name":"w"},
				"webhooks":[{"name":"a.b.c","clientConfig":{"service":{"namespace":"n","name":"s"}},"rules":[{"operations":["CREATE"],"apiGroups":[""],"apiVersions":["v1"],"resources":["pods"]}],
				"sideEffects":"None","admissionReviewVersions":["v1"]}]}`,
			check: func(t *testing.T, obj runtime.Object) {
				w := obj.(*admissionregistrationv1.ValidatingWebhookConfiguration).Webhooks[0]
				if *w.FailurePolicy != admissionregistrationv1.Fail || *w.MatchPolicy != admissionregistrationv1.Equivalent ||
					w.NamespaceSelector == nil || w.ObjectSelector == nil || *w.TimeoutSeconds != 10 ||
					*w.ClientConfig.Service.Port != 443 || *w.Rules[0].Scope != admissionregistrationv1.AllScopes {
					t.Errorf("webhook %+v", w)
				}
			},
		},
		{
			name: "priority level",
			body: `{"apiVersion":"flowcontrol.apiserver.k8s.io/v1","kind":"PriorityLevelConfiguration","metadata":{"name":"p"},
				"spec":{"type":"Limited","limited":{"limitResponse":{"type":"Queue","queuing":{}}}}}`,
			check: func(t *testing.T, obj runtime.Object) {
				l := obj.(*flowcontrolv1.PriorityLevelConfiguration).Spec.Limited
				q := l.LimitResponse.Queuing
				if *l.NominalConcurrencyShares != 30 || *l.LendablePercent != 0 || q.HandSize != 8 || q.Queues != 64 || q.QueueLengthLimit != 50 {
					t.Errorf("limited %+v queuing %+v", l, q)
				}
			},
		},
		{
			name: "csi driver",
			body: `{"apiVersion":"storage.k8s.io/v1","kind":"CSIDriver","metadata":{"name":"c"},"spec":{}}`,
			check: func(t *testing.T, obj runtime.Object) {
				s := obj.(*storagev1.CSIDriver).Spec
				if !*s.AttachRequired || *s.PodInfoOnMount || *s.SELinuxMount || *s.PreventPodSchedulingIfMissing ||
					*s.FSGroupPolicy != storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy || s.VolumeLifecycleModes[0] != storagev1.VolumeLifecyclePersistent {
					t.Errorf("spec %+v", s)
				}
			},
		},
		{
			name: "endpoint slice",
			body: `{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"e"},"addressType":"IPv4","endpoints":[],"ports":[{"port":80}]}`,
			check: func(t *testing.T, obj runtime.Object) {
				p := obj.(*discoveryv1.EndpointSlice).Ports[0]
				if *p.Name != "" || *p.Protocol != corev1.ProtocolTCP {
					t.Errorf("port %+v", p)
				}
			},
		},
		{
			name: "priority class",
			body: `{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"p"},"value":5}`,
			check: func(t *testing.T, obj runtime.Object) {
				if p := obj.(*schedulingv1.PriorityClass).PreemptionPolicy; *p != corev1.PreemptLowerPriority {
					t.Errorf("preemptionPolicy %v", *p)
				}
			},
		},
		{
			name: "pod certificate request",
			body: `{"apiVersion":"certificates.k8s.io/v1","kind":"PodCertificateRequest","metadata":{"name":"p"},"spec":{}}`,
			check: func(t *testing.T, obj runtime.Object) {
				if got := obj.(*certificatesv1.PodCertificateRequest).Spec.MaxExpirationSeconds; ptr.Deref(got, 0) != 86400 {
					t.Errorf("maxExpirationSeconds %v", got)
				}
			},
		},
		{
			name: "ingress class",
			body: `{"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","metadata":{"name":"i"},"spec":{"parameters":{"kind":"K","name":"n"}}}`,
			check: func(t *testing.T, obj runtime.Object) {
				if s := obj.(*networkingv1.IngressClass).Spec.Parameters.Scope; ptr.Deref(s, "") != networkingv1.IngressClassParametersReferenceScopeCluster {
					t.Errorf("scope %v", s)
				}
			},
		},
		{
			name: "autoscaling/v1 HPA decodes to the v2 hub",
			body: `{"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler","metadata":{"name":"h"},
				"spec":{"scaleTargetRef":{"kind":"Deployment","name":"d"},"maxReplicas":5,"targetCPUUtilizationPercentage":70}}`,
			check: func(t *testing.T, obj runtime.Object) {
				hpa, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
				if !ok {
					t.Fatalf("decoded %T, want the autoscaling/v2 type", obj)
				}
				m := hpa.Spec.Metrics
				if *hpa.Spec.MinReplicas != 1 || len(m) != 1 || *m[0].Resource.Target.AverageUtilization != 70 {
					t.Errorf("spec %+v", hpa.Spec)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, decode(t, tt.body))
		})
	}
}

func TestHPAEncodesToV1(t *testing.T) {
	hpa := &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 3}}
	hpa.Name = "h"
	Scheme.Default(hpa)
	out, err := Scheme.ConvertToVersion(hpa, autoscalingv1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	v1, ok := out.(*autoscalingv1.HorizontalPodAutoscaler)
	if !ok || ptr.Deref(v1.Spec.TargetCPUUtilizationPercentage, 0) != 80 || v1.Kind != "HorizontalPodAutoscaler" || v1.APIVersion != "autoscaling/v1" {
		t.Errorf("converted to %T %+v", out, out)
	}
}

func TestInternalKinds(t *testing.T) {
	internal := func(group, kind string) schema.GroupVersionKind {
		return schema.GroupVersionKind{Group: group, Version: runtime.APIVersionInternal, Kind: kind}
	}
	tests := []struct {
		gvk  schema.GroupVersionKind
		want any
	}{
		{internal("autoscaling", "Scale"), &autoscalingv1.Scale{}},
		{internal("autoscaling", "HorizontalPodAutoscaler"), &autoscalingv2.HorizontalPodAutoscaler{}},
		{internal("", "PodLogOptions"), &corev1.PodLogOptions{}},
		{internal("", "PodExecOptions"), &corev1.PodExecOptions{}},
		{internal("", "NodeProxyOptions"), &corev1.NodeProxyOptions{}},
		{internal("", "ServiceProxyOptions"), &corev1.ServiceProxyOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.gvk.String(), func(t *testing.T) {
			obj, err := Scheme.New(tt.gvk)
			if err != nil {
				t.Fatal(err)
			}
			if reflect.TypeOf(obj) != reflect.TypeOf(tt.want) {
				t.Errorf("type %T, want %T", obj, tt.want)
			}
		})
	}
}

func TestDecodeParameters(t *testing.T) {
	tests := []struct {
		name  string
		query string
		into  runtime.Object
		want  runtime.Object
	}{
		{
			name:  "logs",
			query: "container=c&follow=true&tailLines=10&timestamps=true&sinceSeconds=5",
			into:  &corev1.PodLogOptions{},
			want: &corev1.PodLogOptions{Container: "c", Follow: true, TailLines: ptr.To[int64](10),
				Timestamps: true, SinceSeconds: ptr.To[int64](5)},
		},
		{
			name:  "exec",
			query: "command=ls&command=-l&stdin=true&tty=true&container=c",
			into:  &corev1.PodExecOptions{},
			want:  &corev1.PodExecOptions{Command: []string{"ls", "-l"}, Stdin: true, TTY: true, Container: "c"},
		},
		{
			name:  "attach",
			query: "stdout=1&container=c",
			into:  &corev1.PodAttachOptions{},
			want:  &corev1.PodAttachOptions{Stdout: true, Container: "c"},
		},
		{
			name:  "portforward",
			query: "ports=8080",
			into:  &corev1.PodPortForwardOptions{},
			want:  &corev1.PodPortForwardOptions{Ports: []int32{8080}},
		},
		{
			name:  "pod proxy",
			query: "path=/metrics",
			into:  &corev1.PodProxyOptions{},
			want:  &corev1.PodProxyOptions{Path: "/metrics"},
		},
		{
			name:  "node proxy",
			query: "path=/stats",
			into:  &corev1.NodeProxyOptions{},
			want:  &corev1.NodeProxyOptions{Path: "/stats"},
		},
		{
			name:  "service proxy",
			query: "path=/",
			into:  &corev1.ServiceProxyOptions{},
			want:  &corev1.ServiceProxyOptions{Path: "/"},
		},
	}
	for _, tt := range tests {
		for _, gv := range []schema.GroupVersion{corev1.SchemeGroupVersion, {Version: runtime.APIVersionInternal}} {
			t.Run(tt.name+"/"+gv.String(), func(t *testing.T) {
				q, err := url.ParseQuery(tt.query)
				if err != nil {
					t.Fatal(err)
				}
				into := tt.into.DeepCopyObject()
				if err := ParameterCodec.DecodeParameters(q, gv, into); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(into, tt.want) {
					t.Errorf("got %+v, want %+v", into, tt.want)
				}
			})
		}
	}
	t.Run("malformed", func(t *testing.T) {
		err := ParameterCodec.DecodeParameters(url.Values{"tailLines": {"x"}}, corev1.SchemeGroupVersion, &corev1.PodLogOptions{})
		if err == nil {
			t.Error("tailLines=x accepted")
		}
	})
}

func TestFieldLabelsRegistered(t *testing.T) {
	tests := []struct {
		gvk          schema.GroupVersionKind
		label, want  string
		wantRejected bool
	}{
		{gvk: corev1.SchemeGroupVersion.WithKind("Pod"), label: "spec.host", want: "spec.nodeName"},
		{gvk: corev1.SchemeGroupVersion.WithKind("Event"), label: "involvedObject.name", want: "involvedObject.name"},
		{gvk: eventsv1.SchemeGroupVersion.WithKind("Event"), label: "regarding.name", want: "involvedObject.name"},
		{gvk: batchv1.SchemeGroupVersion.WithKind("Job"), label: "status.successful", want: "status.successful"},
		{gvk: schema.GroupVersionKind{Group: "certificates.k8s.io", Version: "v1", Kind: "CertificateSigningRequest"}, label: "spec.signerName", want: "spec.signerName"},
		{gvk: appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), label: "status.replicas", wantRejected: true},
		{gvk: appsv1.SchemeGroupVersion.WithKind("Deployment"), label: "metadata.name", want: "metadata.name"},
	}
	for _, tt := range tests {
		t.Run(tt.gvk.Kind+"/"+tt.label, func(t *testing.T) {
			got, _, err := Scheme.ConvertFieldLabel(tt.gvk, tt.label, "v")
			if tt.wantRejected {
				if err == nil {
					t.Errorf("accepted as %q", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestEventsConvertThroughScheme(t *testing.T) {
	ev := &eventsv1.Event{Note: "pulled", Regarding: corev1.ObjectReference{Kind: "Pod", Name: "p"}, ReportingController: "kubelet"}
	var core corev1.Event
	if err := Scheme.Convert(ev, &core, nil); err != nil {
		t.Fatal(err)
	}
	if core.Message != "pulled" || core.InvolvedObject.Name != "p" || core.ReportingController != "kubelet" {
		t.Errorf("core event %+v", core)
	}
}

// TestEventsHub builds the scheme with the hub types registered before the
// preferred versions, the order install needs for events.k8s.io's internal
// Event to be the stored core Event.
func TestEventsHub(t *testing.T) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := addHubTypes(s); err != nil {
		t.Fatal(err)
	}
	for _, gv := range ServedGroupVersions {
		if gv.Version == PreferredVersion(gv.Group) {
			registerInternal(s, gv)
		}
	}
	if err := addDefaultsAndConversions(s); err != nil {
		t.Fatal(err)
	}
	internal := schema.GroupVersion{Group: eventsv1.GroupName, Version: runtime.APIVersionInternal}
	obj, err := s.ConvertToVersion(&eventsv1.Event{Note: "n", Regarding: corev1.ObjectReference{Name: "p"}}, internal)
	if err != nil {
		t.Fatal(err)
	}
	core, ok := obj.(*corev1.Event)
	if !ok || core.Message != "n" || core.InvolvedObject.Name != "p" {
		t.Fatalf("internal events.k8s.io Event is %T %+v, want the core Event", obj, obj)
	}
	back, err := s.ConvertToVersion(core, eventsv1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	if ev, ok := back.(*eventsv1.Event); !ok || ev.Note != "n" || ev.APIVersion != "events.k8s.io/v1" {
		t.Errorf("back to events.k8s.io/v1: %T %+v", back, back)
	}
	if err := addHubTypes(s); err != nil {
		t.Errorf("addHubTypes is not idempotent: %v", err)
	}
}
