package registry

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/utils/ptr"
)

func resource(t *testing.T, group, name string) *Resource {
	t.Helper()
	for _, r := range Resources() {
		if r.Group == group && r.Name == name {
			return r
		}
	}
	t.Fatalf("no resource %s.%s", name, group)
	return nil
}

func TestGenerationAndStatus(t *testing.T) {
	r := resource(t, "apps", "deployments")
	main, status := newStrategy(r, nil), newStrategy(r, statusSubresource(r))
	ctx := context.Background()

	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1)}, Status: appsv1.DeploymentStatus{Replicas: 7}}
	main.PrepareForCreate(ctx, d)
	if d.Generation != 1 || d.Status.Replicas != 0 {
		t.Fatalf("create: generation %d, status %+v; want 1 and an empty status", d.Generation, d.Status)
	}
	d.Status.Replicas = 3

	tests := []struct {
		name     string
		strategy *strategy
		mutate   func(*appsv1.Deployment)
		wantGen  int64
		wantRepl int32 // spec.replicas after the update
		wantStat int32 // status.replicas after the update
	}{
		{"spec change bumps generation", main, func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](2) }, 2, 2, 3},
		{"annotation change bumps generation", main, func(d *appsv1.Deployment) { d.Annotations = map[string]string{"a": "b"} }, 2, 1, 3},
		{"label change does not", main, func(d *appsv1.Deployment) { d.Labels = map[string]string{"a": "b"} }, 1, 1, 3},
		{"main write keeps status", main, func(d *appsv1.Deployment) { d.Status.Replicas = 9 }, 1, 1, 3},
		{"status write keeps spec", status, func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](5); d.Status.Replicas = 4 }, 1, 1, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			updated := d.DeepCopy()
			tc.mutate(updated)
			tc.strategy.PrepareForUpdate(ctx, updated, d)
			if updated.Generation != tc.wantGen || *updated.Spec.Replicas != tc.wantRepl || updated.Status.Replicas != tc.wantStat {
				t.Errorf("got generation %d, spec.replicas %d, status.replicas %d; want %d, %d, %d",
					updated.Generation, *updated.Spec.Replicas, updated.Status.Replicas, tc.wantGen, tc.wantRepl, tc.wantStat)
			}
		})
	}
}

func TestJobSelectorGeneration(t *testing.T) {
	s := newStrategy(resource(t, "batch", "jobs"), nil)
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", UID: "u1"}}
	s.PrepareForCreate(context.Background(), job)
	want := map[string]string{"job-name": "pi", "batch.kubernetes.io/job-name": "pi", "controller-uid": "u1", "batch.kubernetes.io/controller-uid": "u1"}
	for k, v := range want {
		if job.Spec.Template.Labels[k] != v {
			t.Errorf("template label %s = %q, want %q", k, job.Spec.Template.Labels[k], v)
		}
	}
	if got := job.Spec.Selector.MatchLabels["batch.kubernetes.io/controller-uid"]; got != "u1" {
		t.Errorf("selector controller-uid = %q, want u1", got)
	}

	manual := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "m", UID: "u2"}, Spec: batchv1.JobSpec{ManualSelector: ptr.To(true)}}
	s.PrepareForCreate(context.Background(), manual)
	if manual.Spec.Selector != nil {
		t.Errorf("manual selector was generated: %v", manual.Spec.Selector)
	}
}

func TestDaemonSetTemplateGeneration(t *testing.T) {
	s := newStrategy(resource(t, "apps", "daemonsets"), nil)
	ctx := context.Background()
	ds := &appsv1.DaemonSet{}
	s.PrepareForCreate(ctx, ds)
	if got := ds.Annotations[templateGenerationAnnotation]; got != "1" {
		t.Fatalf("template generation on create = %q, want 1", got)
	}
	changed := ds.DeepCopy()
	changed.Spec.Template.Labels = map[string]string{"v": "2"}
	changed.Annotations[templateGenerationAnnotation] = "40" // users cannot set it
	s.PrepareForUpdate(ctx, changed, ds)
	if got := changed.Annotations[templateGenerationAnnotation]; got != "2" || changed.Generation != 2 {
		t.Errorf("after a template change: template generation %q, generation %d; want 2 and 2", got, changed.Generation)
	}
}

func TestCSRRequesterAndApproval(t *testing.T) {
	r := resource(t, "certificates.k8s.io", "certificatesigningrequests")
	ctx := genericapirequest.WithUser(context.Background(), &user.DefaultInfo{Name: "bob", Groups: []string{"devs"}})
	csr := &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{Username: "mallory"}}
	newStrategy(r, nil).PrepareForCreate(ctx, csr)
	if csr.Spec.Username != "bob" || len(csr.Spec.Groups) != 1 {
		t.Fatalf("requester = %q %v, want bob [devs]", csr.Spec.Username, csr.Spec.Groups)
	}

	approved := csr.DeepCopy()
	approved.Spec.Username = "eve"
	approved.Status.Certificate = []byte("forged")
	approved.Status.Conditions = append(approved.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue})
	newStrategy(r, csrApproval()).PrepareForUpdate(ctx, approved, csr)
	if approved.Spec.Username != "bob" || approved.Status.Certificate != nil {
		t.Errorf("approval changed more than conditions: user %q, certificate %q", approved.Spec.Username, approved.Status.Certificate)
	}
	if len(approved.Status.Conditions) != 1 || approved.Status.Conditions[0].LastUpdateTime.IsZero() {
		t.Errorf("approval condition not kept and stamped: %+v", approved.Status.Conditions)
	}
}

func TestResetFields(t *testing.T) {
	tests := []struct {
		group, name string
		sub         func(*Resource) *Subresource
		want        string
	}{
		{"apps", "deployments", nil, ".status"},
		{"apps", "deployments", statusSubresource, ".spec"},
		{"certificates.k8s.io", "certificatesigningrequests", func(*Resource) *Subresource { return csrApproval() }, ".spec\n.status.certificate"},
		{"", "configmaps", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := resource(t, tc.group, tc.name)
			var sub *Subresource
			if tc.sub != nil {
				sub = tc.sub(r)
			}
			got := ""
			for _, set := range newStrategy(r, sub).GetResetFields() {
				got = set.String()
			}
			if got != tc.want {
				t.Errorf("reset fields = %q, want %q", got, tc.want)
			}
		})
	}
}

var _ runtime.Object = &appsv1.Deployment{}
