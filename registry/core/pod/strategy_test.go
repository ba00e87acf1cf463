package pod

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/apis"
)

func list(pairs ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i+1 < len(pairs); i += 2 {
		l[corev1.ResourceName(pairs[i])] = resource.MustParse(pairs[i+1])
	}
	return l
}

func podWith(containers ...corev1.ResourceRequirements) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	for i, r := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: string(rune('a' + i)), Image: "busybox", Resources: r})
	}
	return p
}

func TestComputeQOSClass(t *testing.T) {
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want corev1.PodQOSClass
	}{
		{"no resources", podWith(corev1.ResourceRequirements{}), corev1.PodQOSBestEffort},
		{"equal cpu and memory", podWith(corev1.ResourceRequirements{Requests: list("cpu", "1", "memory", "1Gi"), Limits: list("cpu", "1", "memory", "1Gi")}), corev1.PodQOSGuaranteed},
		{"cpu only", podWith(corev1.ResourceRequirements{Requests: list("cpu", "1"), Limits: list("cpu", "1")}), corev1.PodQOSBurstable},
		{"requests below limits", podWith(corev1.ResourceRequirements{Requests: list("cpu", "1", "memory", "1Gi"), Limits: list("cpu", "2", "memory", "1Gi")}), corev1.PodQOSBurstable},
		{"guaranteed and best effort containers", podWith(
			corev1.ResourceRequirements{Requests: list("cpu", "1", "memory", "1Gi"), Limits: list("cpu", "1", "memory", "1Gi")},
			corev1.ResourceRequirements{}), corev1.PodQOSBurstable},
		{"only other resources", podWith(corev1.ResourceRequirements{Requests: list("example.com/gpu", "1"), Limits: list("example.com/gpu", "1")}), corev1.PodQOSBestEffort},
		{"pod-level resources win", func() *corev1.Pod {
			p := podWith(corev1.ResourceRequirements{})
			p.Spec.Resources = &corev1.ResourceRequirements{Requests: list("cpu", "1", "memory", "1Gi"), Limits: list("cpu", "1", "memory", "1Gi")}
			return p
		}(), corev1.PodQOSGuaranteed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ComputeQOSClass(tc.pod); got != tc.want {
				t.Errorf("ComputeQOSClass = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPrepareForCreate(t *testing.T) {
	p := podWith(corev1.ResourceRequirements{Limits: list("cpu", "1")})
	p.Labels = map[string]string{"app": "web", "track": "canary"}
	p.Generation = 7
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"}
	p.Annotations = map[string]string{
		"pod.beta.kubernetes.io/init-containers":                        "[]",
		corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix + "a": "runtime/default",
	}
	p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector:  &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			MatchLabelKeys: []string{"track"},
			TopologyKey:    "kubernetes.io/hostname",
		}},
	}}
	stopSignal := corev1.SIGTERM
	p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{StopSignal: &stopSignal}

	PrepareForCreate(context.Background(), p)

	if p.Generation != 1 || p.Status.Phase != corev1.PodPending || p.Status.PodIP != "" {
		t.Errorf("generation %d, status %+v: want 1 and a fresh Pending status", p.Generation, p.Status)
	}
	if p.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("qosClass = %q, want Burstable", p.Status.QOSClass)
	}
	if _, ok := p.Annotations["pod.beta.kubernetes.io/init-containers"]; ok {
		t.Errorf("legacy init container annotation kept")
	}
	if p.Spec.Containers[0].Lifecycle != nil {
		t.Errorf("stop signal of a disabled feature kept: %+v", p.Spec.Containers[0].Lifecycle)
	}
	wantExpr := []metav1.LabelSelectorRequirement{{Key: "track", Operator: metav1.LabelSelectorOpIn, Values: []string{"canary"}}}
	if got := p.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].LabelSelector.MatchExpressions; !apiequality.Semantic.DeepEqual(got, wantExpr) {
		t.Errorf("matchLabelKeys merged into %+v, want %+v", got, wantExpr)
	}
	if sc := p.Spec.Containers[0].SecurityContext; sc == nil || sc.AppArmorProfile == nil || sc.AppArmorProfile.Type != corev1.AppArmorProfileTypeRuntimeDefault {
		t.Errorf("AppArmor annotation not copied to the field: %+v", sc)
	}
}

func TestPrepareForUpdate(t *testing.T) {
	old := podWith(corev1.ResourceRequirements{})
	old.Generation = 3
	old.Status = corev1.PodStatus{Phase: corev1.PodRunning, QOSClass: corev1.PodQOSBestEffort}
	old.Spec.Resources = &corev1.ResourceRequirements{Requests: list("cpu", "1")}

	for _, tc := range []struct {
		name    string
		mutate  func(p *corev1.Pod)
		wantGen int64
	}{
		{"metadata only", func(p *corev1.Pod) { p.Labels = map[string]string{"x": "y"} }, 3},
		{"image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "alpine" }, 4},
		{"pod-level resources dropped by an unaware client", func(p *corev1.Pod) { p.Spec.Resources = nil }, 3},
		{"disabled feature field only", func(p *corev1.Pod) { p.Spec.EvictionResponders = []corev1.EvictionResponder{{}} }, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := old.DeepCopy()
			p.Status = corev1.PodStatus{Phase: corev1.PodFailed}
			tc.mutate(p)
			PrepareForUpdate(context.Background(), p, old)
			if p.Generation != tc.wantGen {
				t.Errorf("generation = %d, want %d", p.Generation, tc.wantGen)
			}
			if p.Status.Phase != corev1.PodRunning {
				t.Errorf("status not kept: %+v", p.Status)
			}
			if p.Spec.Resources == nil {
				t.Errorf("pod-level resources lost")
			}
		})
	}
}

func TestStatusPrepareForUpdate(t *testing.T) {
	old := podWith(corev1.ResourceRequirements{})
	old.OwnerReferences = []metav1.OwnerReference{{Name: "rs", UID: "1"}}
	old.Status = corev1.PodStatus{
		QOSClass:           corev1.PodQOSBestEffort,
		ObservedGeneration: 2,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionFalse, ObservedGeneration: 2},
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, ObservedGeneration: 1},
		},
	}
	p := old.DeepCopy()
	p.Spec.Containers[0].Image = "changed"
	p.OwnerReferences = nil
	p.Status = corev1.PodStatus{
		Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, ObservedGeneration: 3},
		},
	}
	StatusStrategy.PrepareForUpdate(context.Background(), p, old)
	if p.Spec.Containers[0].Image != "busybox" || len(p.OwnerReferences) != 1 {
		t.Errorf("spec or owner references changed through status: %q %v", p.Spec.Containers[0].Image, p.OwnerReferences)
	}
	if p.Status.QOSClass != corev1.PodQOSBestEffort || p.Status.ObservedGeneration != 2 {
		t.Errorf("qosClass %q, observedGeneration %d: want the stored ones kept", p.Status.QOSClass, p.Status.ObservedGeneration)
	}
	if got := []int64{p.Status.Conditions[0].ObservedGeneration, p.Status.Conditions[1].ObservedGeneration}; got[0] != 1 || got[1] != 3 {
		t.Errorf("condition observedGenerations = %v, want [1 3]", got)
	}
}

func TestCheckGracefulDelete(t *testing.T) {
	thirty := int64(30)
	for _, tc := range []struct {
		name    string
		node    string
		phase   corev1.PodPhase
		request *int64
		want    int64
	}{
		{"bound, spec default", "n1", corev1.PodRunning, nil, 30},
		{"bound, request", "n1", corev1.PodRunning, ptr(int64(5)), 5},
		{"bound, negative request", "n1", corev1.PodRunning, ptr(int64(-3)), 1},
		{"unbound", "", corev1.PodPending, ptr(int64(5)), 0},
		{"succeeded", "n1", corev1.PodSucceeded, nil, 0},
		{"failed", "n1", corev1.PodFailed, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := podWith(corev1.ResourceRequirements{})
			p.Spec.NodeName, p.Status.Phase = tc.node, tc.phase
			p.Spec.TerminationGracePeriodSeconds = &thirty
			opts := &metav1.DeleteOptions{GracePeriodSeconds: tc.request}
			if !CheckGracefulDelete(context.Background(), p, opts) {
				t.Fatal("CheckGracefulDelete = false")
			}
			if *opts.GracePeriodSeconds != tc.want {
				t.Errorf("grace period = %d, want %d", *opts.GracePeriodSeconds, tc.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestDefaultPodLevelResources(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pod        *corev1.Pod
		podLevel   corev1.ResourceRequirements
		want       corev1.ResourceRequirements
		unchanged  bool
		containers []corev1.ResourceRequirements
	}{
		{
			name:       "requests from limits",
			containers: []corev1.ResourceRequirements{{}},
			podLevel:   corev1.ResourceRequirements{Limits: list("cpu", "2")},
			want:       corev1.ResourceRequirements{Requests: list("cpu", "2"), Limits: list("cpu", "2")},
		},
		{
			name:       "limits from every container",
			containers: []corev1.ResourceRequirements{{Limits: list("cpu", "500m")}, {Limits: list("cpu", "700m")}},
			podLevel:   corev1.ResourceRequirements{Requests: list("cpu", "1")},
			want:       corev1.ResourceRequirements{Requests: list("cpu", "1"), Limits: list("cpu", "1200m")},
		},
		{
			name:       "limit raised to the request",
			containers: []corev1.ResourceRequirements{{Limits: list("cpu", "500m")}},
			podLevel:   corev1.ResourceRequirements{Requests: list("cpu", "2")},
			want:       corev1.ResourceRequirements{Requests: list("cpu", "2"), Limits: list("cpu", "2")},
		},
		{
			name:       "no limit when a container has none",
			containers: []corev1.ResourceRequirements{{Limits: list("memory", "1Gi")}, {}},
			podLevel:   corev1.ResourceRequirements{Requests: list("memory", "2Gi")},
			want:       corev1.ResourceRequirements{Requests: list("memory", "2Gi")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := podWith(tc.containers...)
			p.Spec.Resources = tc.podLevel.DeepCopy()
			DefaultPodLevelResources(p)
			if !apiequality.Semantic.DeepEqual(*p.Spec.Resources, tc.want) {
				t.Errorf("pod-level resources = %+v, want %+v", *p.Spec.Resources, tc.want)
			}
		})
	}
}

func TestResizeStrategy(t *testing.T) {
	old := podWith(corev1.ResourceRequirements{Requests: list("cpu", "100m", "memory", "64Mi"), Limits: list("cpu", "200m", "memory", "128Mi")})
	apis.Scheme.Default(old)
	old.Generation, old.ResourceVersion = 1, "5"
	old.Status.QOSClass = corev1.PodQOSBurstable
	for _, tc := range []struct {
		name   string
		mutate func(p *corev1.Pod)
		// want is a substring of the validation errors; "" means none.
		want    string
		wantGen int64
	}{
		{"cpu up", func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Limits["cpu"] = resource.MustParse("300m") }, "", 2},
		{"image change is dropped", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "alpine" }, "", 1},
		{"to guaranteed", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: list("cpu", "1", "memory", "1Gi"), Limits: list("cpu", "1", "memory", "1Gi")}
		}, "Pod QOS Class may not change as a result of resizing", 2},
		{"other resource", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits["ephemeral-storage"] = resource.MustParse("1Gi")
		},
			"spec: Forbidden: only cpu and memory resources are mutable", 2},
		{"removed request", func(p *corev1.Pod) { delete(p.Spec.Containers[0].Resources.Requests, "memory") },
			"spec.containers[0].resources.requests: Forbidden: resource requests cannot be removed", 2},
		{"renamed container", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "z" },
			// Passed through whole for validation to reject, so it counts as a spec change.
			"spec.containers[0].name: Forbidden: containers may not be renamed or reordered on resize", 2},
		{"static pod", func(p *corev1.Pod) {}, "Forbidden: static pods cannot be resized", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := old.DeepCopy()
			if tc.name == "static pod" {
				o.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"}
			}
			p := o.DeepCopy()
			tc.mutate(p)
			ResizeStrategy.PrepareForUpdate(context.Background(), p, o)
			if tc.name != "renamed container" && p.Spec.Containers[0].Image != "busybox" {
				t.Errorf("resize kept an image change")
			}
			if p.Generation != tc.wantGen {
				t.Errorf("generation = %d, want %d", p.Generation, tc.wantGen)
			}
			errs := ResizeStrategy.ValidateUpdate(context.Background(), p, o)
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Errorf("unexpected errors: %v", errs)
			case tc.want != "" && !strings.Contains(errs.ToAggregate().Error(), tc.want):
				t.Errorf("errors %v, want one containing %q", errs, tc.want)
			}
		})
	}
}
