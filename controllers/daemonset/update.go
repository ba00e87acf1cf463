package daemonset

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/controllers/internal/history"
)

// rollingUpdate replaces old pods: without surge it deletes old pods while
// at most maxUnavailable nodes lack an available daemon; with surge it
// starts new pods next to old ones on at most maxSurge nodes and deletes
// each old pod once its replacement is available.
func (c *Controller) rollingUpdate(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string) error {
	logger := klog.FromContext(ctx)
	nodeToPods, err := c.nodesToDaemonPods(ctx, ds, false)
	if err != nil {
		return fmt.Errorf("couldn't get node to daemon pod mapping for daemon set %q: %w", ds.Name, err)
	}
	maxSurge, maxUnavailable, desired, err := c.updatedDesiredNodeCounts(ctx, ds, nodes, nodeToPods)
	if err != nil {
		return fmt.Errorf("couldn't get unavailable numbers: %w", err)
	}
	now := c.failedPodsBackoff.Clock.Now()
	available := func(p *corev1.Pod) bool { return history.IsPodAvailable(p, ds.Spec.MinReadySeconds, now) }
	generation := templateGeneration(ds)

	if maxSurge == 0 {
		var numUnavailable int
		var allowedReplacement, candidates []string
		for nodeName, pods := range nodeToPods {
			newPod, oldPod, ok := findUpdatedPodsOnNode(pods, hash, generation)
			if !ok {
				// More than one pod of a kind: manage cleans up first.
				logger.V(3).Info("DaemonSet has excess pods on node, skipping to allow the core loop to process", "daemonset", klog.KObj(ds), "node", klog.KRef("", nodeName))
				numUnavailable++
				continue
			}
			switch {
			case oldPod == nil && newPod == nil, oldPod != nil && newPod != nil:
				numUnavailable++
			case newPod != nil:
				if !available(newPod) {
					numUnavailable++
				}
			default:
				switch {
				case !available(oldPod):
					// An unavailable old pod costs nothing to replace.
					allowedReplacement = append(allowedReplacement, oldPod.Name)
					numUnavailable++
				case numUnavailable >= maxUnavailable:
				default:
					candidates = append(candidates, oldPod.Name)
				}
			}
		}
		remaining := min(max(maxUnavailable-numUnavailable, 0), len(candidates))
		return c.syncNodes(ctx, ds, append(allowedReplacement, candidates[:remaining]...), nil, hash)
	}

	tolerations, affinity := daemonPodTolerations(ds), requiredAffinity(ds)
	var oldPodsToDelete, shouldNotRunPodsToDelete, candidateNewNodes, allowedNewNodes []string
	var numSurge, numAvailable int
	for nodeName, pods := range nodeToPods {
		newPod, oldPod, ok := findUpdatedPodsOnNode(pods, hash, generation)
		if !ok {
			numSurge++
			continue
		}
		if oldPod != nil && available(oldPod) || oldPod == nil && newPod != nil && available(newPod) {
			numAvailable++
		}
		switch {
		case oldPod == nil:
		case newPod == nil:
			node, err := c.nodeLister.Get(nodeName)
			if err != nil {
				return fmt.Errorf("couldn't get node for nodeName %q: %w", nodeName, err)
			}
			shouldRun, _ := nodeShouldRunDaemonPod(logger, node, ds, tolerations, affinity)
			switch {
			case !available(oldPod):
				if !shouldRun {
					oldPodsToDelete = append(oldPodsToDelete, oldPod.Name)
					continue
				}
				allowedNewNodes = append(allowedNewNodes, nodeName)
			case !shouldRun:
				shouldNotRunPodsToDelete = append(shouldNotRunPodsToDelete, oldPod.Name)
			case numSurge < maxSurge:
				candidateNewNodes = append(candidateNewNodes, nodeName)
			}
		default:
			if !available(newPod) {
				numSurge++
				continue
			}
			oldPodsToDelete = append(oldPodsToDelete, oldPod.Name)
		}
	}
	// Old pods on nodes that no longer need one go while enough others are
	// available.
	if deletable := min(numAvailable-desired, len(shouldNotRunPodsToDelete)); deletable > 0 {
		for _, name := range shouldNotRunPodsToDelete[:deletable] {
			if _, err := c.podLister.Pods(ds.Namespace).Get(name); err != nil {
				if apierrors.IsNotFound(err) {
					continue
				}
				return fmt.Errorf("couldn't get pod which should be deleted due to scheduling constraints %q: %w", name, err)
			}
			oldPodsToDelete = append(oldPodsToDelete, name)
		}
	}
	remainingSurge := min(max(maxSurge-numSurge, 0), len(candidateNewNodes))
	return c.syncNodes(ctx, ds, oldPodsToDelete, append(allowedNewNodes, candidateNewNodes[:remainingSurge]...), hash)
}

// findUpdatedPodsOnNode splits a node's live pods into the new and the old
// one; ok is false when there is more than one of either.
func findUpdatedPodsOnNode(pods []*corev1.Pod, hash string, generation *int64) (newPod, oldPod *corev1.Pod, ok bool) {
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		if isPodUpdated(pod, hash, generation) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = pod
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = pod
		}
	}
	return newPod, oldPod, true
}

func (c *Controller) updatedDesiredNodeCounts(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, nodeToPods map[string][]*corev1.Pod) (maxSurge, maxUnavailable, desired int, err error) {
	logger := klog.FromContext(ctx)
	tolerations, affinity := daemonPodTolerations(ds), requiredAffinity(ds)
	for _, node := range nodes {
		if run, _ := nodeShouldRunDaemonPod(logger, node, ds, tolerations, affinity); !run {
			continue
		}
		desired++
		if _, ok := nodeToPods[node.Name]; !ok {
			nodeToPods[node.Name] = nil
		}
	}
	maxUnavailable, err = unavailableCount(ds, desired)
	if err != nil {
		return -1, -1, -1, fmt.Errorf("invalid value for MaxUnavailable: %w", err)
	}
	maxSurge, err = surgeCount(ds, desired)
	if err != nil {
		return -1, -1, -1, fmt.Errorf("invalid value for MaxSurge: %w", err)
	}
	if desired > 0 && maxUnavailable == 0 && maxSurge == 0 {
		logger.Info("DaemonSet is not configured for surge or unavailability, defaulting to accepting unavailability", "daemonset", klog.KObj(ds))
		maxUnavailable = 1
	}
	return maxSurge, maxUnavailable, desired, nil
}

// constructHistory returns the revision of the current template, creating
// or renumbering it, and the other revisions.
func (c *Controller) constructHistory(ctx context.Context, ds *appsv1.DaemonSet) (cur *appsv1.ControllerRevision, old []*appsv1.ControllerRevision, err error) {
	revisions, err := c.controlledHistories(ctx, ds)
	if err != nil {
		return nil, nil, err
	}
	patch, err := getPatch(ds)
	if err != nil {
		return nil, nil, err
	}
	var current []*appsv1.ControllerRevision
	for _, r := range revisions {
		// Revisions from before the hash label existed get their name as hash.
		if _, ok := r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]; !ok {
			toUpdate := r.DeepCopy()
			if toUpdate.Labels == nil {
				toUpdate.Labels = map[string]string{}
			}
			toUpdate.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] = toUpdate.Name
			if r, err = c.client.AppsV1().ControllerRevisions(ds.Namespace).Update(ctx, toUpdate, metav1.UpdateOptions{}); err != nil {
				return nil, nil, err
			}
		}
		if bytes.Equal(patch, r.Data.Raw) {
			current = append(current, r)
		} else {
			old = append(old, r)
		}
	}
	next := maxRevision(old) + 1
	if len(current) == 0 {
		cur, err = c.snapshot(ctx, ds, next, patch)
		return cur, old, err
	}
	if cur, err = c.dedupCurHistories(ctx, ds, current); err != nil {
		return nil, nil, err
	}
	if cur.Revision < next {
		toUpdate := cur.DeepCopy()
		toUpdate.Revision = next
		if _, err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Update(ctx, toUpdate, metav1.UpdateOptions{}); err != nil {
			return nil, nil, err
		}
	}
	return cur, old, nil
}

func maxRevision(revisions []*appsv1.ControllerRevision) int64 {
	var m int64
	for _, r := range revisions {
		m = max(m, r.Revision)
	}
	return m
}

// controlledHistories claims the revisions the set's selector matches.
func (c *Controller) controlledHistories(ctx context.Context, ds *appsv1.DaemonSet) ([]*appsv1.ControllerRevision, error) {
	selector, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return nil, err
	}
	all, err := c.historyList.ControllerRevisions(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	h := &history.History{Client: c.client, Lister: c.historyList}
	var claimed []*appsv1.ControllerRevision
	checked := false
	for _, r := range all {
		match := selector.Matches(labels.Set(r.Labels))
		ref := metav1.GetControllerOfNoCopy(r)
		switch {
		case ref != nil && ref.UID != ds.UID:
		case ref != nil && match:
			claimed = append(claimed, r)
		case ref != nil:
			if _, err := h.Release(ctx, ds, r); err != nil {
				return nil, err
			}
		case match && r.DeletionTimestamp == nil:
			if !checked {
				fresh, err := c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
				if err != nil {
					return nil, err
				}
				if fresh.UID != ds.UID {
					return nil, fmt.Errorf("original DaemonSet %v/%v is gone: got uid %v, wanted %v", ds.Namespace, ds.Name, fresh.UID, ds.UID)
				}
				if fresh.DeletionTimestamp != nil {
					return nil, fmt.Errorf("%v/%v has just been deleted at %v", ds.Namespace, ds.Name, fresh.DeletionTimestamp)
				}
				checked = true
			}
			adopted, err := h.Adopt(ctx, ds, controllerKind, r)
			if err != nil {
				if apierrors.IsNotFound(err) {
					continue
				}
				return nil, err
			}
			claimed = append(claimed, adopted)
		}
	}
	return claimed, nil
}

// dedupCurHistories keeps the newest of several revisions equal to the
// current template, relabeling pods of the others to it.
func (c *Controller) dedupCurHistories(ctx context.Context, ds *appsv1.DaemonSet, revisions []*appsv1.ControllerRevision) (*appsv1.ControllerRevision, error) {
	if len(revisions) == 1 {
		return revisions[0], nil
	}
	var keep *appsv1.ControllerRevision
	var maxRev int64
	for _, r := range revisions {
		if r.Revision >= maxRev {
			keep, maxRev = r, r.Revision
		}
	}
	pods, err := c.daemonPods(ctx, ds)
	if err != nil {
		return nil, err
	}
	keepHash := keep.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	for _, pod := range pods {
		if pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == keepHash {
			continue
		}
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{appsv1.DefaultDaemonSetUniqueLabelKey: keepHash}}})
		if err != nil {
			return nil, err
		}
		if _, err := c.client.CoreV1().Pods(ds.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return nil, err
		}
	}
	for _, r := range revisions {
		if r.Name == keep.Name {
			continue
		}
		if err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{}); err != nil {
			return nil, err
		}
	}
	return keep, nil
}

// snapshot creates the revision of the current template. A name taken by
// another template bumps the set's collision count, which changes the name
// on the next sync.
func (c *Controller) snapshot(ctx context.Context, ds *appsv1.DaemonSet, revision int64, patch []byte) (*appsv1.ControllerRevision, error) {
	hash := history.ComputeHash(&ds.Spec.Template, ds.Status.CollisionCount)
	name := ds.Name + "-" + hash
	lbls := copyMap(ds.Spec.Template.Labels)
	lbls[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       ds.Namespace,
			Labels:          lbls,
			Annotations:     ds.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ds, controllerKind)},
		},
		Data:     runtime.RawExtension{Raw: patch},
		Revision: revision,
	}
	created, err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Create(ctx, cr, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return created, err
	}
	outerErr := err
	existing, err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if bytes.Equal(patch, existing.Data.Raw) {
		return existing, nil
	}
	currDS, err := c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if !reflect.DeepEqual(currDS.Status.CollisionCount, ds.Status.CollisionCount) {
		return nil, fmt.Errorf("found a stale collision count (%d, expected %d) of DaemonSet %q while processing; will retry until it is updated",
			ptrValue(ds.Status.CollisionCount), ptrValue(currDS.Status.CollisionCount), ds.Name)
	}
	if currDS.Status.CollisionCount == nil {
		currDS.Status.CollisionCount = new(int32)
	}
	*currDS.Status.CollisionCount++
	if _, err := c.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, currDS, metav1.UpdateOptions{}); err != nil {
		return nil, err
	}
	klog.FromContext(ctx).V(2).Info("Found a hash collision for DaemonSet - bumping collisionCount to resolve it", "daemonset", klog.KObj(ds), "collisionCount", *currDS.Status.CollisionCount)
	return nil, outerErr
}

func ptrValue(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// cleanupHistory deletes the oldest revisions beyond revisionHistoryLimit
// that no pod still runs.
func (c *Controller) cleanupHistory(ctx context.Context, ds *appsv1.DaemonSet, old []*appsv1.ControllerRevision) error {
	toKill := len(old) - int(*ds.Spec.RevisionHistoryLimit)
	if toKill <= 0 {
		return nil
	}
	nodeToPods, err := c.nodesToDaemonPods(ctx, ds, true)
	if err != nil {
		return fmt.Errorf("couldn't get node to daemon pod mapping for daemon set %q: %w", ds.Name, err)
	}
	live := map[string]bool{}
	for _, pods := range nodeToPods {
		for _, pod := range pods {
			if h := pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]; h != "" {
				live[h] = true
			}
		}
	}
	sort.SliceStable(old, func(i, j int) bool { return old[i].Revision < old[j].Revision })
	for _, r := range old {
		if toKill <= 0 {
			break
		}
		if live[r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]] {
			continue
		}
		if err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{}); err != nil {
			return err
		}
		toKill--
	}
	return nil
}
