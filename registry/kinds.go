package registry

import (
	"context"
	"maps"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	skiffautoscalingv1 "github.com/skiff-dev/skiff/apis/autoscaling/v1"
	"github.com/skiff-dev/skiff/apis/validation"
)

// This file holds what upstream's strategies do beyond the generic
// spec/status/generation handling, kind by kind.

func deploymentHooks() Hooks {
	return Hooks{
		// A deployment's generation also counts annotation changes: rollback and
		// pause used to be annotations, and controllers still react to them.
		PrepareForUpdate: func(ctx context.Context, obj, old runtime.Object) {
			d, o := obj.(*appsv1.Deployment), old.(*appsv1.Deployment)
			if !apiequality.Semantic.DeepEqual(d.Annotations, o.Annotations) && d.Generation == o.Generation {
				d.Generation = o.Generation + 1
			}
		},
		PrepareForStatusUpdate: func(ctx context.Context, obj, old runtime.Object) {
			obj.(*appsv1.Deployment).Labels = old.(*appsv1.Deployment).Labels
		},
	}
}

// templateGenerationAnnotation carries a daemon set's template generation in
// apps/v1, where it has no field of its own.
const templateGenerationAnnotation = "deprecated.daemonset.template.generation"

func daemonSetHooks() Hooks {
	return Hooks{
		PrepareForCreate: func(ctx context.Context, obj runtime.Object) {
			ds := obj.(*appsv1.DaemonSet)
			if n, _ := strconv.ParseInt(ds.Annotations[templateGenerationAnnotation], 10, 64); n < 1 {
				setAnnotation(&ds.ObjectMeta, templateGenerationAnnotation, "1")
			}
		},
		// The template generation is the server's count of template changes.
		PrepareForUpdate: func(ctx context.Context, obj, old runtime.Object) {
			ds, o := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
			gen, _ := strconv.ParseInt(o.Annotations[templateGenerationAnnotation], 10, 64)
			if !apiequality.Semantic.DeepEqual(ds.Spec.Template, o.Spec.Template) {
				gen++
				ds.Generation = o.Generation + 1
			}
			if gen > 0 {
				setAnnotation(&ds.ObjectMeta, templateGenerationAnnotation, strconv.FormatInt(gen, 10))
			}
		},
	}
}

func setAnnotation(m *metav1.ObjectMeta, key, value string) {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[key] = value
}

func jobHooks() Hooks {
	return Hooks{
		PrepareForCreate: func(ctx context.Context, obj runtime.Object) {
			job := obj.(*batchv1.Job)
			if job.Spec.ManualSelector == nil || !*job.Spec.ManualSelector {
				generateJobSelector(job)
			}
		},
	}
}

// The unprefixed labels jobs have always put on their pods.
const (
	legacyJobNameLabel       = "job-name"
	legacyControllerUIDLabel = "controller-uid"
)

// generateJobSelector labels a job's pod template with its name and UID and
// selects on the UID, so that the job's pods are exactly its own.
func generateJobSelector(job *batchv1.Job) {
	if job.Spec.Template.Labels == nil {
		job.Spec.Template.Labels = map[string]string{}
	}
	// A label the user set is left alone; a conflict fails validation.
	for _, k := range []string{legacyJobNameLabel, batchv1.JobNameLabel} {
		if _, ok := job.Spec.Template.Labels[k]; !ok {
			job.Spec.Template.Labels[k] = job.Name
		}
	}
	for _, k := range []string{legacyControllerUIDLabel, batchv1.ControllerUidLabel} {
		if _, ok := job.Spec.Template.Labels[k]; !ok {
			job.Spec.Template.Labels[k] = string(job.UID)
		}
	}
	if job.Spec.Selector == nil {
		job.Spec.Selector = &metav1.LabelSelector{}
	}
	if job.Spec.Selector.MatchLabels == nil {
		job.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !ok {
		job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = string(job.UID)
	}
}

func persistentVolumeHooks() Hooks {
	return Hooks{
		PrepareForCreate: func(ctx context.Context, obj runtime.Object) {
			pv := obj.(*corev1.PersistentVolume)
			now := metav1.Now()
			pv.Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumePending, LastPhaseTransitionTime: &now}
		},
		PrepareForStatusUpdate: func(ctx context.Context, obj, old runtime.Object) {
			pv, o := obj.(*corev1.PersistentVolume), old.(*corev1.PersistentVolume)
			switch {
			case pv.Status.Phase == o.Status.Phase && pv.Status.LastPhaseTransitionTime == nil:
				pv.Status.LastPhaseTransitionTime = o.Status.LastPhaseTransitionTime
			case pv.Status.Phase != o.Status.Phase && (pv.Status.LastPhaseTransitionTime == nil || pv.Status.LastPhaseTransitionTime.Equal(o.Status.LastPhaseTransitionTime)):
				now := metav1.Now()
				pv.Status.LastPhaseTransitionTime = &now
			}
		},
	}
}

func secretHooks() Hooks {
	return Hooks{
		PrepareForCreate: func(ctx context.Context, obj runtime.Object) {
			foldStringData(obj.(*corev1.Secret))
		},
		PrepareForUpdate: func(ctx context.Context, obj, old runtime.Object) {
			s := obj.(*corev1.Secret)
			foldStringData(s)
			if s.Type == "" {
				s.Type = old.(*corev1.Secret).Type
			}
		},
	}
}

// foldStringData moves stringData into data, where it wins over a key of
// the same name. Upstream does this converting to the internal type, which
// has no stringData, so the field is write-only: it is never stored or
// returned.
func foldStringData(s *corev1.Secret) {
	if len(s.StringData) == 0 {
		s.StringData = nil
		return
	}
	if s.Data == nil {
		s.Data = make(map[string][]byte, len(s.StringData))
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}

func serviceAccountHooks() Hooks {
	// Secret references keep only their names.
	clean := func(ctx context.Context, obj runtime.Object) {
		sa := obj.(*corev1.ServiceAccount)
		for i, ref := range sa.Secrets {
			sa.Secrets[i] = corev1.ObjectReference{Name: ref.Name}
		}
	}
	return Hooks{
		PrepareForCreate: clean,
		PrepareForUpdate: func(ctx context.Context, obj, old runtime.Object) { clean(ctx, obj) },
	}
}

func limitRangeHooks() Hooks {
	return Hooks{
		PrepareForCreate: func(ctx context.Context, obj runtime.Object) {
			if lr := obj.(*corev1.LimitRange); lr.Name == "" {
				lr.Name = string(uuid.NewUUID())
			}
		},
	}
}

func endpointSliceHooks() Hooks {
	return Hooks{
		// Label changes count as generation changes for endpoint slices.
		PrepareForUpdate: func(ctx context.Context, obj, old runtime.Object) {
			s, o := obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice)
			if !maps.Equal(s.Labels, o.Labels) && s.Generation == o.Generation {
				s.Generation = o.Generation + 1
			}
		},
	}
}

// resetMetaForStatus keeps a /status write from changing metadata, except
// managed fields, as upstream does for flow control objects.
func resetMetaForStatus(ctx context.Context, obj, old runtime.Object) {
	m, o := obj.(metav1.Object), old.(metav1.Object)
	managed := m.GetManagedFields()
	switch n := obj.(type) {
	case *flowcontrolv1.FlowSchema:
		n.ObjectMeta = *old.(*flowcontrolv1.FlowSchema).ObjectMeta.DeepCopy()
	case *flowcontrolv1.PriorityLevelConfiguration:
		n.ObjectMeta = *old.(*flowcontrolv1.PriorityLevelConfiguration).ObjectMeta.DeepCopy()
	default:
		metav1.ResetObjectMetaForStatus(m, o)
	}
	m.SetManagedFields(managed)
}

// csrHooks: the requester's identity is recorded from the request, and the
// main resource can change neither spec nor status.
func csrHooks() Hooks {
	return Hooks{
		PrepareForCreate: func(ctx context.Context, obj runtime.Object) {
			csr := obj.(*certificatesv1.CertificateSigningRequest)
			csr.Spec.Username, csr.Spec.UID, csr.Spec.Groups, csr.Spec.Extra = "", "", nil, nil
			if u, ok := genericapirequest.UserFrom(ctx); ok {
				csr.Spec.Username = u.GetName()
				csr.Spec.UID = u.GetUID()
				csr.Spec.Groups = u.GetGroups()
				if extra := u.GetExtra(); len(extra) > 0 {
					csr.Spec.Extra = map[string]certificatesv1.ExtraValue{}
					for k, v := range extra {
						csr.Spec.Extra[k] = v
					}
				}
			}
			csr.Status = certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{}}
		},
		PrepareForUpdate: func(ctx context.Context, obj, old runtime.Object) {
			csr, o := obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest)
			csr.Spec = o.Spec
		},
		PrepareForStatusUpdate: func(ctx context.Context, obj, old runtime.Object) {
			csr, o := obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest)
			// Approved and Denied conditions change only through /approval.
			preserveCSRConditions(csr, o, certificatesv1.CertificateApproved)
			preserveCSRConditions(csr, o, certificatesv1.CertificateDenied)
			stampCSRConditions(csr, o)
		},
	}
}

// csrApproval is certificatesigningrequests/approval: only conditions change.
func csrApproval() *Subresource {
	return &Subresource{
		Name: "approval",
		PrepareForUpdate: func(ctx context.Context, obj, old runtime.Object) {
			csr, o := obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest)
			stampCSRConditions(csr, o)
			conditions := csr.Status.Conditions
			csr.Spec = o.Spec
			csr.Status = o.Status
			csr.Status.Conditions = conditions
		},
		ValidateUpdate: func(ctx context.Context, obj, old runtime.Object) field.ErrorList {
			return validation.ValidateCertificateSigningRequestApprovalUpdate(obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest))
		},
		ResetFields: [][]string{{"spec"}, {"status", "certificate"}},
	}
}

func preserveCSRConditions(csr, old *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) {
	var oldIdx, newIdx []int
	for i, c := range old.Status.Conditions {
		if c.Type == t {
			oldIdx = append(oldIdx, i)
		}
	}
	for i, c := range csr.Status.Conditions {
		if c.Type == t {
			newIdx = append(newIdx, i)
		}
	}
	// Added or removed instances cannot be preserved; validation rejects them.
	if len(oldIdx) != len(newIdx) {
		return
	}
	for i, o := range oldIdx {
		csr.Status.Conditions[newIdx[i]] = old.Status.Conditions[o]
	}
}

func stampCSRConditions(csr, old *certificatesv1.CertificateSigningRequest) {
	now := metav1.Now()
	for i := range csr.Status.Conditions {
		c := &csr.Status.Conditions[i]
		if c.LastUpdateTime.IsZero() {
			c.LastUpdateTime = now
		}
		if c.LastTransitionTime.IsZero() {
			c.LastTransitionTime = now
			for _, oc := range old.Status.Conditions {
				if oc.Type == c.Type && oc.Status == c.Status && !oc.LastTransitionTime.IsZero() {
					c.LastTransitionTime = oc.LastTransitionTime
					break
				}
			}
		}
	}
}

// hpaHooks drop the annotations autoscaling/v1 uses to carry v2 fields: a
// write through v2 must not store them, as upstream's v2 conversion drops them.
func hpaHooks() Hooks {
	drop := func(ctx context.Context, obj runtime.Object) {
		hpa := obj.(*autoscalingv2.HorizontalPodAutoscaler)
		hpa.Annotations = skiffautoscalingv1.DropRoundTripAnnotations(hpa.Annotations)
	}
	return Hooks{
		PrepareForCreate: drop,
		PrepareForUpdate: func(ctx context.Context, obj, old runtime.Object) { drop(ctx, obj) },
	}
}
