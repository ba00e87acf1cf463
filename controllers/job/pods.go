package job

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// expectationsTTL bounds how long a controller waits for its own creations
// and deletions to show in the cache before it trusts the cache again.
const expectationsTTL = 5 * time.Minute

// expectations count the pod creations and deletions a Job's last sync
// issued and its informer has not yet shown, so that a slow cache never
// makes the controller create twice.
type expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	m     map[string]*expectation
}

type expectation struct {
	add, del  int
	timestamp time.Time
}

func newExpectations(clk clock.PassiveClock) *expectations {
	return &expectations{clock: clk, m: map[string]*expectation{}}
}

func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	exp, ok := e.m[key]
	if !ok {
		return true
	}
	return (exp.add <= 0 && exp.del <= 0) || e.clock.Since(exp.timestamp) > expectationsTTL
}

func (e *expectations) expect(key string, add, del int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expectation{add: add, del: del, timestamp: e.clock.Now()}
}

func (e *expectations) observe(key string, add, del int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if exp, ok := e.m[key]; ok {
		exp.add -= add
		exp.del -= del
	}
}

func (e *expectations) creationObserved(key string) { e.observe(key, 1, 0) }
func (e *expectations) deletionObserved(key string) { e.observe(key, 0, 1) }

func (e *expectations) delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}

// finalizerExpectations are the pods whose tracking finalizer a Job's sync
// removed and whose update the informer has not shown yet: they must not be
// counted a second time.
type finalizerExpectations struct {
	mu sync.Mutex
	m  map[string]sets.Set[types.UID]
}

func newFinalizerExpectations() *finalizerExpectations {
	return &finalizerExpectations{m: map[string]sets.Set[types.UID]{}}
}

func (f *finalizerExpectations) expected(key string) sets.Set[types.UID] {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[key].Clone()
}

func (f *finalizerExpectations) expectRemoved(key string, uids []types.UID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m[key] == nil {
		f.m[key] = sets.New[types.UID]()
	}
	f.m[key].Insert(uids...)
}

func (f *finalizerExpectations) removalObserved(key string, uid types.UID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.m[key]; s != nil {
		s.Delete(uid)
		if s.Len() == 0 {
			delete(f.m, key)
		}
	}
}

func (f *finalizerExpectations) delete(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, key)
}

func hasTrackingFinalizer(pod *corev1.Pod) bool {
	return slices.Contains(pod.Finalizers, batchv1.JobTrackingFinalizer)
}

// removeTrackingFinalizerPatch is a strategic merge patch that drops only
// the tracking finalizer, whatever other finalizers the pod has meanwhile.
func removeTrackingFinalizerPatch(pod *corev1.Pod) []byte {
	if !hasTrackingFinalizer(pod) {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"$deleteFromPrimitiveList/finalizers": []string{batchv1.JobTrackingFinalizer}},
	})
	return patch
}

func isPodActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

func activePods(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if isPodActive(p) {
			out = append(out, p)
		}
	}
	return out
}

func isPodTerminating(p *corev1.Pod) bool {
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

func terminatingPods(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if isPodTerminating(p) {
			out = append(out, p)
		}
	}
	return out
}

func isPodReady(p *corev1.Pod) bool {
	c := podReadyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

func podReadyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func countReady(pods []*corev1.Pod) int32 {
	var n int32
	for _, p := range pods {
		if isPodReady(p) {
			n++
		}
	}
	return n
}

// sortActivePods orders pods the way controllers pick victims: the pods
// least far along first (unscheduled, pending, not ready, ready the
// shortest, restarted most, newest).
func sortActivePods(pods []*corev1.Pod) {
	phaseRank := map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}
	restarts := func(p *corev1.Pod) int32 {
		var n int32
		for _, s := range p.Status.ContainerStatuses {
			n = max(n, s.RestartCount)
		}
		return n
	}
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := pods[i], pods[j]
		if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
			return a.Spec.NodeName == ""
		}
		if phaseRank[a.Status.Phase] != phaseRank[b.Status.Phase] {
			return phaseRank[a.Status.Phase] < phaseRank[b.Status.Phase]
		}
		if isPodReady(a) != isPodReady(b) {
			return !isPodReady(a)
		}
		if isPodReady(a) && isPodReady(b) {
			ta, tb := podReadyCondition(a).LastTransitionTime, podReadyCondition(b).LastTransitionTime
			if !ta.Equal(&tb) {
				return tb.Before(&ta)
			}
		}
		if ra, rb := restarts(a), restarts(b); ra != rb {
			return ra > rb
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return b.CreationTimestamp.Before(&a.CreationTimestamp)
		}
		return false
	})
}

// podControl writes pods on behalf of Jobs and records upstream's events on
// the Job for each creation and deletion.
type podControl struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
}

func (pc podControl) create(ctx context.Context, job *batchv1.Job, template *corev1.PodTemplateSpec, generateName string) error {
	if generateName == "" {
		generateName = job.Name + "-"
		if len(apivalidation.NameIsDNSSubdomain(generateName, true)) != 0 {
			generateName = job.Name
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    generateName,
			Labels:          copyMap(template.Labels),
			Annotations:     copyMap(template.Annotations),
			Finalizers:      slices.Clone(template.Finalizers),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))},
		},
		Spec: *template.Spec.DeepCopy(),
	}
	if len(pod.Labels) == 0 {
		return fmt.Errorf("unable to create pods, no labels")
	}
	created, err := pc.client.CoreV1().Pods(job.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		pc.recorder.Eventf(job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return err
	}
	klog.FromContext(ctx).V(4).Info("Controller created pod", "controller", klog.KObj(job), "pod", klog.KObj(created))
	pc.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", created.Name)
	return nil
}

func (pc podControl) delete(ctx context.Context, job *batchv1.Job, name string) error {
	err := pc.client.CoreV1().Pods(job.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil {
		if !apierrors.IsNotFound(err) {
			pc.recorder.Eventf(job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		}
		return fmt.Errorf("unable to delete pods: %w", err)
	}
	pc.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", name)
	return nil
}

func (pc podControl) patch(ctx context.Context, namespace, name string, data []byte) error {
	_, err := pc.client.CoreV1().Pods(namespace).Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
	return err
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
