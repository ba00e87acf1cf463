package job

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/storage/names"
	"k8s.io/klog/v2"
)

const (
	completionIndexEnvName = "JOB_COMPLETION_INDEX"
	unknownCompletionIndex = -1
)

func isIndexedJob(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
}

func hasBackoffLimitPerIndex(job *batchv1.Job) bool {
	return job.Spec.BackoffLimitPerIndex != nil
}

// interval is an inclusive range of completion indexes.
type interval struct{ First, Last int }

// orderedIntervals are disjoint, non-adjacent intervals in increasing order:
// the form of status.completedIndexes and status.failedIndexes.
type orderedIntervals []interval

// succeededIndexes returns the indexes recorded in status and those plus the
// indexes of succeeded pods still tracked by the finalizer.
func succeededIndexes(logger klog.Logger, job *batchv1.Job, pods []*corev1.Pod) (prev, all orderedIntervals) {
	prev = parseIndexes(logger, job.Status.CompletedIndexes, int(*job.Spec.Completions))
	newSucceeded := sets.New[int]()
	for _, p := range pods {
		ix := completionIndex(p.Annotations)
		if p.Status.Phase == corev1.PodSucceeded && ix != unknownCompletionIndex && ix < int(*job.Spec.Completions) && hasTrackingFinalizer(p) {
			newSucceeded.Insert(ix)
		}
	}
	return prev, prev.withIndexes(sets.List(newSucceeded))
}

func failedIndexes(logger klog.Logger, job *batchv1.Job, pods []*corev1.Pod) *orderedIntervals {
	var prev orderedIntervals
	if job.Status.FailedIndexes != nil {
		prev = parseIndexes(logger, *job.Status.FailedIndexes, int(*job.Spec.Completions))
	}
	newFailed := sets.New[int]()
	for _, p := range pods {
		ix := completionIndex(p.Annotations)
		if ix != unknownCompletionIndex && ix < int(*job.Spec.Completions) && hasTrackingFinalizer(p) && isIndexFailed(logger, job, p) {
			newFailed.Insert(ix)
		}
	}
	result := prev.withIndexes(sets.List(newFailed))
	return &result
}

// isIndexFailed says whether pod's failure fails its index: a FailIndex rule
// matched, or the index used up backoffLimitPerIndex.
func isIndexFailed(logger klog.Logger, job *batchv1.Job, pod *corev1.Pod) bool {
	counted := false
	if isPodFailed(pod, job) {
		if job.Spec.PodFailurePolicy != nil {
			_, countFailed, action := matchPodFailurePolicy(job.Spec.PodFailurePolicy, pod)
			if action != nil && *action == batchv1.PodFailurePolicyActionFailIndex {
				return true
			}
			counted = countFailed
		} else {
			counted = true
		}
	}
	return counted && indexFailureCount(logger, pod) >= *job.Spec.BackoffLimitPerIndex
}

func (oi orderedIntervals) withIndexes(newIndexes []int) orderedIntervals {
	add := make(orderedIntervals, len(newIndexes))
	for i, ix := range newIndexes {
		add[i] = interval{ix, ix}
	}
	return oi.merge(add)
}

func (oi orderedIntervals) merge(other orderedIntervals) orderedIntervals {
	var result orderedIntervals
	appendOrMerge := func(iv interval) {
		if len(result) == 0 || iv.First > result[len(result)-1].Last+1 {
			result = append(result, iv)
		} else if last := &result[len(result)-1]; last.Last < iv.Last {
			last.Last = iv.Last
		}
	}
	i, j := 0, 0
	for i < len(oi) && j < len(other) {
		if oi[i].First < other[j].First {
			appendOrMerge(oi[i])
			i++
		} else {
			appendOrMerge(other[j])
			j++
		}
	}
	for ; i < len(oi); i++ {
		appendOrMerge(oi[i])
	}
	for ; j < len(other); j++ {
		appendOrMerge(other[j])
	}
	return result
}

func (oi orderedIntervals) total() int {
	n := 0
	for _, iv := range oi {
		n += iv.Last - iv.First + 1
	}
	return n
}

// String renders the intervals as upstream does: "1,3-5,7,8".
func (oi orderedIntervals) String() string {
	var b strings.Builder
	for _, iv := range oi {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(iv.First))
		switch {
		case iv.Last == iv.First+1:
			b.WriteByte(',')
			b.WriteString(strconv.Itoa(iv.Last))
		case iv.Last > iv.First:
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(iv.Last))
		}
	}
	return b.String()
}

func (oi *orderedIntervals) has(ix int) bool {
	if oi == nil {
		return false
	}
	i := sort.Search(len(*oi), func(i int) bool { return (*oi)[i].Last >= ix })
	return i < len(*oi) && (*oi)[i].First <= ix
}

// parseIndexes reads an interval list, dropping indexes at or beyond
// completions and skipping corrupted entries.
func parseIndexes(logger klog.Logger, s string, completions int) orderedIntervals {
	if s == "" {
		return nil
	}
	var result orderedIntervals
	for _, part := range strings.Split(s, ",") {
		limits := strings.Split(part, "-")
		var iv interval
		var err error
		if iv.First, err = strconv.Atoi(limits[0]); err != nil {
			logger.Info("Corrupted indexes interval, ignoring", "interval", part, "err", err)
			continue
		}
		if iv.First >= completions {
			break
		}
		iv.Last = iv.First
		if len(limits) > 1 {
			if iv.Last, err = strconv.Atoi(limits[1]); err != nil {
				logger.Info("Corrupted indexes interval, ignoring", "interval", part, "err", err)
				continue
			}
			iv.Last = min(iv.Last, completions-1)
		}
		if n := len(result); n > 0 && result[n-1].Last == iv.First-1 {
			result[n-1].Last = iv.Last
		} else {
			result = append(result, iv)
		}
	}
	return result
}

// firstPendingIndexes returns up to count indexes below completions that are
// neither succeeded, failed nor held by an active (or, under
// podReplacementPolicy Failed, terminating) pod.
func firstPendingIndexes(jc *syncContext, count, completions int) []int {
	if count == 0 {
		return nil
	}
	nonPending := jc.succeededIndexes.withIndexes(sets.List(podIndexes(jc.activePods)))
	if onlyReplaceFailedPods(jc.job) {
		nonPending = nonPending.withIndexes(sets.List(podIndexes(terminatingPods(jc.pods))))
	}
	if jc.failedIndexes != nil {
		nonPending = nonPending.merge(*jc.failedIndexes)
	}
	result := make([]int, 0, count)
	candidate := 0
	for _, iv := range nonPending {
		for ; candidate < completions && len(result) < count && candidate < iv.First; candidate++ {
			result = append(result, candidate)
		}
		candidate = max(candidate, iv.Last+1)
	}
	for ; candidate < completions && len(result) < count; candidate++ {
		result = append(result, candidate)
	}
	return result
}

func podIndexes(pods []*corev1.Pod) sets.Set[int] {
	result := sets.New[int]()
	for _, p := range pods {
		if ix := completionIndex(p.Annotations); ix != unknownCompletionIndex {
			result.Insert(ix)
		}
	}
	return result
}

// duplicatedIndexPodsForRemoval splits pods into those to remove (unknown or
// out of range indexes, all but the best pod of a repeated index) and the
// rest.
func duplicatedIndexPodsForRemoval(pods []*corev1.Pod, completions int) (rm, left []*corev1.Pod) {
	sortByCompletionIndex(pods)
	flush := func(group []*corev1.Pod, ix int) {
		switch {
		case len(group) == 0:
		case ix == unknownCompletionIndex:
			rm = append(rm, group...)
		case len(group) == 1:
			left = append(left, group[0])
		default:
			sortActivePods(group)
			rm = append(rm, group[:len(group)-1]...)
			left = append(left, group[len(group)-1])
		}
	}
	last, start, end := unknownCompletionIndex, 0, 0
	for i, p := range pods {
		ix := completionIndex(p.Annotations)
		if ix >= completions {
			rm = append(rm, pods[i:]...)
			break
		}
		if ix != last {
			flush(pods[start:i], last)
			start, last = i, ix
		}
		end = i + 1
	}
	flush(pods[start:end], last)
	return rm, left
}

// podsWithDelayedDeletionPerIndex picks, for each index that needs a new pod
// under backoffLimitPerIndex, the failed pod whose finalizer stays until its
// replacement has taken over its failure counts.
func podsWithDelayedDeletionPerIndex(logger klog.Logger, jc *syncContext) map[int]*corev1.Pod {
	active := podIndexes(jc.activePods)
	result := make(map[int]*corev1.Pod)
	for _, p := range validPods(jc, nil, func(p *corev1.Pod) bool { return isPodFailed(p, jc.job) }) {
		ix := completionIndex(p.Annotations)
		if ix == unknownCompletionIndex || ix >= int(*jc.job.Spec.Completions) {
			continue
		}
		if jc.succeededIndexes.has(ix) || jc.failedIndexes.has(ix) || active.Has(ix) {
			continue
		}
		if last, ok := result[ix]; ok {
			if indexAbsoluteFailureCount(logger, last) <= indexAbsoluteFailureCount(logger, p) && !finishedTime(p).Before(finishedTime(last)) {
				result[ix] = p
			}
		} else {
			result[ix] = p
		}
	}
	return result
}

func addIndexFailureCountAnnotation(logger klog.Logger, template *corev1.PodTemplateSpec, job *batchv1.Job, replaced *corev1.Pod) {
	var failures, ignored int32
	if replaced != nil {
		failures = indexFailureCount(logger, replaced)
		ignored = indexIgnoredFailureCount(logger, replaced)
		countFailed := true
		if job.Spec.PodFailurePolicy != nil {
			_, countFailed, _ = matchPodFailurePolicy(job.Spec.PodFailurePolicy, replaced)
		}
		if countFailed {
			failures++
		} else {
			ignored++
		}
	}
	template.Annotations[batchv1.JobIndexFailureCountAnnotation] = strconv.Itoa(int(failures))
	if ignored > 0 {
		template.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation] = strconv.Itoa(int(ignored))
	}
}

func completionIndex(annotations map[string]string) int {
	v, ok := annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return unknownCompletionIndex
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return unknownCompletionIndex
	}
	return i
}

func indexFailureCount(logger klog.Logger, pod *corev1.Pod) int32 {
	return parseInt32(logger, pod.Annotations[batchv1.JobIndexFailureCountAnnotation])
}

func indexIgnoredFailureCount(logger klog.Logger, pod *corev1.Pod) int32 {
	return parseInt32(logger, pod.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation])
}

func indexAbsoluteFailureCount(logger klog.Logger, pod *corev1.Pod) int32 {
	return indexFailureCount(logger, pod) + indexIgnoredFailureCount(logger, pod)
}

func parseInt32(logger klog.Logger, s string) int32 {
	if s == "" {
		return 0
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > math.MaxInt32 {
		logger.Info("Ignoring an invalid index failure count", "value", s)
		return 0
	}
	return int32(v)
}

// addCompletionIndexEnv gives every container JOB_COMPLETION_INDEX from the
// pod's completion-index label.
func addCompletionIndexEnv(template *corev1.PodTemplateSpec) {
	add := func(c *corev1.Container) {
		if slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == completionIndexEnvName }) {
			return
		}
		c.Env = append(c.Env, corev1.EnvVar{
			Name: completionIndexEnvName,
			ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
				FieldPath: fmt.Sprintf("metadata.labels['%s']", batchv1.JobCompletionIndexAnnotation),
			}},
		})
	}
	for i := range template.Spec.InitContainers {
		add(&template.Spec.InitContainers[i])
	}
	for i := range template.Spec.Containers {
		add(&template.Spec.Containers[i])
	}
}

func setCompletionIndex(template *corev1.PodTemplateSpec, index int) {
	if template.Annotations == nil {
		template.Annotations = map[string]string{}
	}
	if template.Labels == nil {
		template.Labels = map[string]string{}
	}
	template.Annotations[batchv1.JobCompletionIndexAnnotation] = strconv.Itoa(index)
	template.Labels[batchv1.JobCompletionIndexAnnotation] = strconv.Itoa(index)
}

func generateNameWithIndex(jobName string, index int) string {
	suffix := "-" + strconv.Itoa(index) + "-"
	prefix := jobName + suffix
	if len(prefix) > names.MaxGeneratedNameLength {
		prefix = prefix[:names.MaxGeneratedNameLength-len(suffix)] + suffix
	}
	return prefix
}

func sortByCompletionIndex(pods []*corev1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool {
		return completionIndex(pods[i].Annotations) < completionIndex(pods[j].Annotations)
	})
}
