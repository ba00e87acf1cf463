package resourceclaim

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNewClaimGenerateName(t *testing.T) {
	tests := []struct {
		pod, claim, want string
	}{
		{"app", "gpu", "app-gpu-"},
		// Too long: both parts shortened in proportion, as upstream does,
		// leaving room for the random suffix.
		{strings.Repeat("p", 40), strings.Repeat("c", 30), strings.Repeat("p", 31) + "-" + strings.Repeat("c", 23)},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tc.pod, UID: "u1"}}
			got := newClaim(pod, tc.claim, &resourcev1.ResourceClaimTemplate{})
			if got.GenerateName != tc.want {
				t.Errorf("generateName %q, want %q", got.GenerateName, tc.want)
			}
			if got.Annotations[resourcev1.PodResourceClaimAnnotation] != tc.claim || len(got.OwnerReferences) != 1 || got.OwnerReferences[0].UID != "u1" {
				t.Errorf("claim %+v", got.ObjectMeta)
			}
		})
	}
}

func TestClaimName(t *testing.T) {
	name := "claim-1"
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	pod.Status.ResourceClaimStatuses = []corev1.PodResourceClaimStatus{{Name: "generated", ResourceClaimName: &name}, {Name: "skipped"}}
	tmpl := "t"
	tests := []struct {
		name      string
		claim     corev1.PodResourceClaim
		want      string
		wantCheck bool
		wantErr   string
	}{
		{"by name", corev1.PodResourceClaim{Name: "x", ResourceClaimName: &name}, name, false, ""},
		{"generated", corev1.PodResourceClaim{Name: "generated", ResourceClaimTemplateName: &tmpl}, name, true, ""},
		{"not needed", corev1.PodResourceClaim{Name: "skipped", ResourceClaimTemplateName: &tmpl}, "", true, ""},
		{"not yet created", corev1.PodResourceClaim{Name: "new", ResourceClaimTemplateName: &tmpl}, "", false, `pod "ns/p": ResourceClaim not created yet`},
		{"neither", corev1.PodResourceClaim{Name: "bad"}, "", false, `pod "ns/p", spec.resourceClaim "bad": none of the supported fields are set`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, check, err := claimName(pod, &tc.claim)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || check != tc.wantCheck {
				t.Fatalf("check %v err %v", check, err)
			}
			if (got == nil) != (tc.want == "") || (got != nil && *got != tc.want) {
				t.Errorf("name %v, want %q", got, tc.want)
			}
		})
	}
}
