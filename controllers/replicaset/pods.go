package replicaset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/kubectl/pkg/util/podutils"
)

// Event reasons of upstream's pod control.
const (
	FailedCreatePodReason     = "FailedCreate"
	SuccessfulCreatePodReason = "SuccessfulCreate"
	FailedDeletePodReason     = "FailedDelete"
	SuccessfulDeletePodReason = "SuccessfulDelete"
)

// PodDeletionCostAnnotation lets a user say which pods of a ReplicaSet go
// first on scale-down: lower cost first.
const PodDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// podControl creates and deletes a controller's pods and records the
// events upstream records for each, on the controller's own object.
type podControl struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	// onWrite, if set, sees every pod the control created or patched.
	onWrite func(*corev1.Pod)
}

// podFromTemplate is the pod a controller creates: the template's labels,
// annotations, finalizers and spec, named after the controller and owned by
// it.
func podFromTemplate(template *corev1.PodTemplateSpec, ownerName string, ref *metav1.OwnerReference) *corev1.Pod {
	// The dash makes names prettier, unless the prefix would then be
	// invalid; as upstream, a prefix's trailing dash and the character
	// before it are checked as one letter.
	prefix := ownerName + "-"
	if ownerName == "" || len(validation.IsDNS1123Subdomain(ownerName[:len(ownerName)-1]+"a")) != 0 {
		prefix = ownerName
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: prefix,
			Labels:       copyMap(template.Labels),
			Annotations:  copyMap(template.Annotations),
			Finalizers:   append([]string{}, template.Finalizers...),
		},
		Spec: *template.Spec.DeepCopy(),
	}
	if ref != nil {
		pod.OwnerReferences = append(pod.OwnerReferences, *ref)
	}
	return pod
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (pc podControl) createPod(ctx context.Context, namespace string, template *corev1.PodTemplateSpec, owner runtime.Object, ownerName string, ref *metav1.OwnerReference) error {
	pod := podFromTemplate(template, ownerName, ref)
	if len(pod.Labels) == 0 {
		return errors.New("unable to create pods, no labels")
	}
	created, err := pc.client.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			pc.recorder.Eventf(owner, corev1.EventTypeWarning, FailedCreatePodReason, "Error creating: %v", err)
		}
		return err
	}
	if pc.onWrite != nil {
		pc.onWrite(created)
	}
	klog.FromContext(ctx).V(4).Info("Controller created pod", "controller", ownerName, "pod", klog.KObj(created))
	pc.recorder.Eventf(owner, corev1.EventTypeNormal, SuccessfulCreatePodReason, "Created pod: %v", created.Name)
	return nil
}

func (pc podControl) deletePod(ctx context.Context, namespace, name string, owner runtime.Object) error {
	klog.FromContext(ctx).V(2).Info("Deleting pod", "pod", klog.KRef(namespace, name))
	if err := pc.client.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return err
		}
		pc.recorder.Eventf(owner, corev1.EventTypeWarning, FailedDeletePodReason, "Error deleting: %v", err)
		return fmt.Errorf("unable to delete pods: %w", err)
	}
	pc.recorder.Eventf(owner, corev1.EventTypeNormal, SuccessfulDeletePodReason, "Deleted pod: %v", name)
	return nil
}

func (pc podControl) patchPod(ctx context.Context, namespace, name string, patch []byte) error {
	pod, err := pc.client.CoreV1().Pods(namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if err == nil && pc.onWrite != nil {
		pc.onWrite(pod)
	}
	return err
}

// claimer adopts the orphans a controller's selector matches and releases
// the pods it owns that the selector no longer matches, as upstream's
// PodControllerRefManager.
type claimer struct {
	pods     podControl
	owner    metav1.Object
	kind     schema.GroupVersionKind
	selector labels.Selector
	// canAdopt is checked once, before the first adoption: a controller
	// being deleted must not adopt (its cache may not show the deletion yet).
	canAdopt     func(ctx context.Context) error
	canAdoptOnce bool
	canAdoptErr  error
}

func (c *claimer) claim(ctx context.Context, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	var claimed []*corev1.Pod
	var errs []error
	for _, pod := range pods {
		ok, err := c.claimOne(ctx, pod)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			claimed = append(claimed, pod)
		}
	}
	return claimed, errors.Join(errs...)
}

func (c *claimer) claimOne(ctx context.Context, pod *corev1.Pod) (bool, error) {
	matches := c.selector.Matches(labels.Set(pod.Labels))
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if ref.UID != c.owner.GetUID() {
			return false, nil
		}
		if matches {
			return true, nil
		}
		if c.owner.GetDeletionTimestamp() != nil {
			return false, nil
		}
		err := c.release(ctx, pod)
		if err != nil && !apierrors.IsNotFound(err) {
			return false, err
		}
		return false, nil
	}
	if c.owner.GetDeletionTimestamp() != nil || !matches || pod.DeletionTimestamp != nil || c.owner.GetNamespace() != pod.Namespace {
		return false, nil
	}
	if err := c.adopt(ctx, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func (c *claimer) adopt(ctx context.Context, pod *corev1.Pod) error {
	if !c.canAdoptOnce {
		c.canAdoptOnce = true
		if c.canAdopt != nil {
			c.canAdoptErr = c.canAdopt(ctx)
		}
	}
	if c.canAdoptErr != nil {
		return fmt.Errorf("can't adopt Pod %v/%v (%v): %w", pod.Namespace, pod.Name, pod.UID, c.canAdoptErr)
	}
	patch, err := adoptPatch(c.owner, c.kind, pod.UID)
	if err != nil {
		return err
	}
	return c.pods.patchPod(ctx, pod.Namespace, pod.Name, patch)
}

func (c *claimer) release(ctx context.Context, pod *corev1.Pod) error {
	klog.FromContext(ctx).V(2).Info("Patching pod to remove its controllerRef", "pod", klog.KObj(pod), "gvk", c.kind, "controller", c.owner.GetName())
	patch, err := releasePatch(pod.UID, c.owner.GetUID())
	if err != nil {
		return err
	}
	err = c.pods.patchPod(ctx, pod.Namespace, pod.Name, patch)
	// Invalid: the pod lost the reference or was recreated under its name.
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil
	}
	return err
}

// adoptPatch adds a controller reference; the uid precondition makes it
// fail on a pod recreated under the same name, and the apiserver rejects it
// if another controller already owns the object.
func adoptPatch(owner metav1.Object, kind schema.GroupVersionKind, uid types.UID) ([]byte, error) {
	return json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": []metav1.OwnerReference{{
			APIVersion:         kind.GroupVersion().String(),
			Kind:               kind.Kind,
			Name:               owner.GetName(),
			UID:                owner.GetUID(),
			Controller:         ptrTo(true),
			BlockOwnerDeletion: ptrTo(true),
		}},
		"uid": uid,
	}})
}

func releasePatch(uid, ownerUID types.UID) ([]byte, error) {
	return json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": []map[string]string{{"$patch": "delete", "uid": string(ownerUID)}},
		"uid":             uid,
	}})
}

func ptrTo[T any](v T) *T { return &v }

// isPodActive: neither finished nor being deleted.
func isPodActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

// isPodTerminating: being deleted but not yet finished.
func isPodTerminating(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp != nil
}

var podPhaseOrdinal = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// deletionCost is the pod's PodDeletionCostAnnotation; anything but a
// plain decimal int32 counts as 0.
func deletionCost(pod *corev1.Pod) int32 {
	v, ok := pod.Annotations[PodDeletionCostAnnotation]
	if !ok || v == "" {
		return 0
	}
	// "+1" and "01" are not valid values.
	if !(v[0] == '-' || v == "0" || (v[0] >= '1' && v[0] <= '9')) {
		return 0
	}
	i, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(i)
}

// rankedPods orders pods so that the ones to delete first come first, as
// upstream's ActivePodsWithRanks: unscheduled, then earlier phase, not
// ready, lower deletion cost, more pods of the same owner on its node,
// ready for less time, more restarts, newer; times compared on a log2
// scale with the UID breaking ties, so equivalent pods go in random order.
type rankedPods struct {
	pods []*corev1.Pod
	rank []int
	now  metav1.Time
}

func (s rankedPods) Len() int { return len(s.pods) }
func (s rankedPods) Swap(i, j int) {
	s.pods[i], s.pods[j] = s.pods[j], s.pods[i]
	s.rank[i], s.rank[j] = s.rank[j], s.rank[i]
}

func (s rankedPods) Less(i, j int) bool {
	pi, pj := s.pods[i], s.pods[j]
	if pi.Spec.NodeName != pj.Spec.NodeName && (pi.Spec.NodeName == "" || pj.Spec.NodeName == "") {
		return pi.Spec.NodeName == ""
	}
	if podPhaseOrdinal[pi.Status.Phase] != podPhaseOrdinal[pj.Status.Phase] {
		return podPhaseOrdinal[pi.Status.Phase] < podPhaseOrdinal[pj.Status.Phase]
	}
	readyI, readyJ := podutils.IsPodReady(pi), podutils.IsPodReady(pj)
	if readyI != readyJ {
		return !readyI
	}
	if ci, cj := deletionCost(pi), deletionCost(pj); ci != cj {
		return ci < cj
	}
	if s.rank[i] != s.rank[j] {
		return s.rank[i] > s.rank[j]
	}
	if readyI && readyJ {
		ti, tj := podReadyTime(pi), podReadyTime(pj)
		if !ti.Equal(tj) {
			if s.now.IsZero() || ti.IsZero() || tj.IsZero() {
				return afterOrZero(ti, tj)
			}
			if d := logRankDiff(*ti, *tj, s.now); d != 0 {
				return d < 0
			}
			return pi.UID < pj.UID
		}
	}
	if res := compareRestarts(pi, pj); res != 0 {
		return res > 0
	}
	if !pi.CreationTimestamp.Equal(&pj.CreationTimestamp) {
		if s.now.IsZero() || pi.CreationTimestamp.IsZero() || pj.CreationTimestamp.IsZero() {
			return afterOrZero(&pi.CreationTimestamp, &pj.CreationTimestamp)
		}
		if d := logRankDiff(pi.CreationTimestamp, pj.CreationTimestamp, s.now); d != 0 {
			return d < 0
		}
		return pi.UID < pj.UID
	}
	return false
}

// afterOrZero: t1 is after t2, a zero time counting as the latest.
func afterOrZero(t1, t2 *metav1.Time) bool {
	if t1.Time.IsZero() || t2.Time.IsZero() {
		return t1.Time.IsZero()
	}
	return t1.After(t2.Time)
}

func logRankDiff(t1, t2, now metav1.Time) int64 {
	rank := func(t metav1.Time) int64 {
		if d := now.Sub(t.Time); d > 0 {
			return int64(math.Log2(float64(d)))
		}
		return -1
	}
	return rank(t1) - rank(t2)
}

func podReadyTime(pod *corev1.Pod) *metav1.Time {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return &c.LastTransitionTime
		}
	}
	return &metav1.Time{}
}

// compareRestarts is positive when pi's containers restarted more than
// pj's: regular containers first, then restartable init containers.
func compareRestarts(pi, pj *corev1.Pod) int {
	ri, si := maxRestarts(pi)
	rj, sj := maxRestarts(pj)
	switch {
	case ri != rj:
		return ri - rj
	default:
		return si - sj
	}
}

func maxRestarts(pod *corev1.Pod) (regular, sidecar int) {
	for _, c := range pod.Status.ContainerStatuses {
		regular = max(regular, int(c.RestartCount))
	}
	sidecars := sets.New[string]()
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars.Insert(c.Name)
		}
	}
	for _, c := range pod.Status.InitContainerStatuses {
		if sidecars.Has(c.Name) {
			sidecar = max(sidecar, int(c.RestartCount))
		}
	}
	return regular, sidecar
}
