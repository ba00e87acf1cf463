package daemonset

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/controllers/internal/history"
)

func requiredAffinity(ds *appsv1.DaemonSet) nodeaffinity.RequiredNodeAffinity {
	return nodeaffinity.NewRequiredNodeAffinity(ds.Spec.Template.Spec.NodeSelector, ds.Spec.Template.Spec.Affinity)
}

// manage creates the pods nodes lack and deletes those that must go.
func (c *Controller) manage(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string) error {
	nodeToPods, err := c.nodesToDaemonPods(ctx, ds, false)
	if err != nil {
		return fmt.Errorf("couldn't get node to daemon pod mapping for daemon set %q: %w", ds.Name, err)
	}
	logger := klog.FromContext(ctx)
	tolerations, affinity := daemonPodTolerations(ds), requiredAffinity(ds)
	var nodesNeeding, podsToDelete []string
	for _, node := range nodes {
		need, del := c.podsShouldBeOnNode(logger, node, nodeToPods, ds, hash, tolerations, affinity)
		nodesNeeding = append(nodesNeeding, need...)
		podsToDelete = append(podsToDelete, del...)
	}
	// Unbound pods meant for nodes that are gone would never be scheduled.
	running := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		running[n.Name] = true
	}
	for node, pods := range nodeToPods {
		if running[node] {
			continue
		}
		for _, pod := range pods {
			if pod.Spec.NodeName == "" {
				podsToDelete = append(podsToDelete, pod.Name)
			}
		}
	}
	return c.syncNodes(ctx, ds, podsToDelete, nodesNeeding, hash)
}

func failedPodsBackoffKey(ds *appsv1.DaemonSet, nodeName string) string {
	return fmt.Sprintf("%s/%d/%s", ds.UID, ds.Status.ObservedGeneration, nodeName)
}

// podsShouldBeOnNode returns whether node needs a daemon pod and which of
// its daemon pods to delete.
func (c *Controller) podsShouldBeOnNode(logger klog.Logger, node *corev1.Node, nodeToPods map[string][]*corev1.Pod, ds *appsv1.DaemonSet, hash string,
	tolerations []corev1.Toleration, affinity nodeaffinity.RequiredNodeAffinity) (nodesNeeding, podsToDelete []string) {
	shouldRun, shouldContinueRunning := nodeShouldRunDaemonPod(logger, node, ds, tolerations, affinity)
	pods, exists := nodeToPods[node.Name]
	switch {
	case shouldRun && !exists:
		nodesNeeding = append(nodesNeeding, node.Name)
	case shouldContinueRunning:
		var running []*corev1.Pod
		for _, pod := range pods {
			if pod.DeletionTimestamp != nil {
				continue
			}
			switch pod.Status.Phase {
			case corev1.PodFailed:
				key := failedPodsBackoffKey(ds, node.Name)
				now := c.failedPodsBackoff.Clock.Now()
				if c.failedPodsBackoff.IsInBackOffSinceUpdate(key, now) {
					delay := c.failedPodsBackoff.Get(key)
					logger.V(4).Info("Deleting failed pod on node has been limited by backoff", "pod", klog.KObj(pod), "node", klog.KObj(node), "currentDelay", delay)
					c.enqueueAfter(ds, delay)
					continue
				}
				c.failedPodsBackoff.Next(key, now)
				c.recorder.Eventf(ds, corev1.EventTypeWarning, FailedDaemonPodReason, "%s",
					fmt.Sprintf("Found failed daemon pod %s/%s on node %s, will try to kill it", pod.Namespace, pod.Name, node.Name))
				podsToDelete = append(podsToDelete, pod.Name)
			case corev1.PodSucceeded:
				c.recorder.Eventf(ds, corev1.EventTypeNormal, SucceededDaemonPodReason, "%s",
					fmt.Sprintf("Found succeeded daemon pod %s/%s on node %s, will try to delete it", pod.Namespace, pod.Name, node.Name))
				podsToDelete = append(podsToDelete, pod.Name)
			default:
				running = append(running, pod)
			}
		}
		sort.SliceStable(running, func(i, j int) bool { return podLess(running[i], running[j]) })
		if !allowsSurge(ds) {
			// Keep the oldest; duplicates from a stale cache go.
			for i := 1; i < len(running); i++ {
				podsToDelete = append(podsToDelete, running[i].Name)
			}
			break
		}
		if len(running) <= 1 {
			if len(running) == 0 && shouldRun {
				nodesNeeding = append(nodesNeeding, node.Name)
			}
			break
		}
		// With surge, keep the oldest new and the oldest old pod; the old
		// one goes once the new one is available (or at once if unready).
		var oldestNew, oldestOld *corev1.Pod
		for _, pod := range running {
			if pod.Labels[appsv1.ControllerRevisionHashLabelKey] == hash {
				if oldestNew == nil {
					oldestNew = pod
					continue
				}
			} else if oldestOld == nil {
				oldestOld = pod
				continue
			}
			podsToDelete = append(podsToDelete, pod.Name)
		}
		if oldestNew != nil && oldestOld != nil {
			if !history.IsPodReady(oldestOld) || history.IsPodAvailable(oldestNew, ds.Spec.MinReadySeconds, c.failedPodsBackoff.Clock.Now()) {
				podsToDelete = append(podsToDelete, oldestOld.Name)
			}
		}
	case !shouldContinueRunning && exists:
		for _, pod := range pods {
			if pod.DeletionTimestamp == nil {
				podsToDelete = append(podsToDelete, pod.Name)
			}
		}
	}
	return nodesNeeding, podsToDelete
}

// syncNodes creates pods for nodes (slow start) and deletes pods, at most
// burstReplicas of each, after recording what the cache must then show.
func (c *Controller) syncNodes(ctx context.Context, ds *appsv1.DaemonSet, podsToDelete, nodesNeeding []string, hash string) error {
	logger := klog.FromContext(ctx)
	key := ds.Namespace + "/" + ds.Name
	createDiff := min(len(nodesNeeding), c.burstReplicas)
	deleteDiff := min(len(podsToDelete), c.burstReplicas)
	c.expectations.set(key, createDiff, deleteDiff)

	errCh := make(chan error, createDiff+deleteDiff)
	template := createPodTemplate(ds.Spec.Template, templateGeneration(ds), hash)
	batch := min(createDiff, slowStartInitialBatchSize)
	for pos := 0; createDiff > pos; batch, pos = min(2*batch, createDiff-(pos+batch)), pos+batch {
		errorCount := len(errCh)
		var wg sync.WaitGroup
		for i := pos; i < pos+batch; i++ {
			nodeName := nodesNeeding[i]
			wg.Go(func() {
				t := template.DeepCopy()
				t.Spec.Affinity = nodeNameAffinity(t.Spec.Affinity, nodeName)
				err := c.createPod(ctx, ds, t)
				if err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					// The pod will never come; nothing to wait for either.
					return
				}
				if err != nil {
					logger.V(2).Info("Failed creation, decrementing expectations for daemon set", "daemonset", klog.KObj(ds))
					c.expectations.creationObserved(key)
					errCh <- err
					utilruntime.HandleError(err)
				}
			})
		}
		wg.Wait()
		// Skip the remaining creates after a failure, and stop expecting them.
		if skipped := createDiff - (batch + pos); errorCount < len(errCh) && skipped > 0 {
			logger.V(2).Info("Slow-start failure. Skipping creation of pods, decrementing expectations for daemon set", "skippedPods", skipped, "daemonset", klog.KObj(ds))
			c.expectations.lower(key, skipped, 0)
			break
		}
	}

	var wg sync.WaitGroup
	for i := range deleteDiff {
		name := podsToDelete[i]
		wg.Go(func() {
			if err := c.deletePodNamed(ctx, ds, name); err != nil {
				c.expectations.deletionObserved(key)
				if !apierrors.IsNotFound(err) {
					errCh <- err
					utilruntime.HandleError(err)
				}
			}
		})
	}
	wg.Wait()
	close(errCh)
	var errs []error
	for err := range errCh {
		errs = append(errs, err)
	}
	return utilerrors.NewAggregate(errs)
}

func (c *Controller) createPod(ctx context.Context, ds *appsv1.DaemonSet, template *corev1.PodTemplateSpec) error {
	pod := podFromTemplate(template, ds, metav1.NewControllerRef(ds, controllerKind))
	if len(pod.Labels) == 0 {
		return fmt.Errorf("unable to create pods, no labels")
	}
	created, err := c.client.CoreV1().Pods(ds.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		}
		return err
	}
	c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", created.Name)
	return nil
}

func (c *Controller) deletePodNamed(ctx context.Context, ds *appsv1.DaemonSet, name string) error {
	klog.FromContext(ctx).V(2).Info("Deleting pod", "controller", ds.Name, "pod", klog.KRef(ds.Namespace, name))
	if err := c.client.CoreV1().Pods(ds.Namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return err
		}
		c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		return fmt.Errorf("unable to delete pods: %w", err)
	}
	c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", name)
	return nil
}

// updateStatus counts the set's pods per node and writes the status if it
// changed.
func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string, updateObservedGen bool) error {
	nodeToPods, err := c.nodesToDaemonPods(ctx, ds, false)
	if err != nil {
		return fmt.Errorf("couldn't get node to daemon pod mapping for daemon set %q: %w", ds.Name, err)
	}
	logger := klog.FromContext(ctx)
	now := c.failedPodsBackoff.Clock.Now()
	tolerations, affinity := daemonPodTolerations(ds), requiredAffinity(ds)
	generation := templateGeneration(ds)
	var desired, current, misscheduled, ready, updated, available int32
	for _, node := range nodes {
		shouldRun, _ := nodeShouldRunDaemonPod(logger, node, ds, tolerations, affinity)
		pods := nodeToPods[node.Name]
		if !shouldRun {
			if len(pods) > 0 {
				misscheduled++
			}
			continue
		}
		desired++
		if len(pods) == 0 {
			continue
		}
		current++
		sort.SliceStable(pods, func(i, j int) bool { return podLess(pods[i], pods[j]) })
		pod := pods[0]
		if history.IsPodReady(pod) {
			ready++
			if history.IsPodAvailable(pod, ds.Spec.MinReadySeconds, now) {
				available++
			}
		}
		if isPodUpdated(pod, hash, generation) {
			updated++
		}
	}
	st := appsv1.DaemonSetStatus{
		DesiredNumberScheduled: desired, CurrentNumberScheduled: current, NumberMisscheduled: misscheduled,
		NumberReady: ready, UpdatedNumberScheduled: updated, NumberAvailable: available, NumberUnavailable: desired - available,
	}
	if err := c.storeStatus(ctx, ds, st, updateObservedGen); err != nil {
		return fmt.Errorf("error storing status for daemon set %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	if ds.Spec.MinReadySeconds > 0 && ready != available {
		c.enqueueAfter(ds, time.Duration(ds.Spec.MinReadySeconds)*time.Second)
	}
	return nil
}

func (c *Controller) storeStatus(ctx context.Context, ds *appsv1.DaemonSet, st appsv1.DaemonSetStatus, updateObservedGen bool) error {
	s := ds.Status
	if s.DesiredNumberScheduled == st.DesiredNumberScheduled && s.CurrentNumberScheduled == st.CurrentNumberScheduled &&
		s.NumberMisscheduled == st.NumberMisscheduled && s.NumberReady == st.NumberReady &&
		s.UpdatedNumberScheduled == st.UpdatedNumberScheduled && s.NumberAvailable == st.NumberAvailable &&
		s.NumberUnavailable == st.NumberUnavailable && s.ObservedGeneration >= ds.Generation {
		return nil
	}
	client := c.client.AppsV1().DaemonSets(ds.Namespace)
	toUpdate := ds.DeepCopy()
	var updateErr error
	for i := 0; ; i++ {
		if updateObservedGen {
			toUpdate.Status.ObservedGeneration = ds.Generation
		}
		toUpdate.Status.DesiredNumberScheduled = st.DesiredNumberScheduled
		toUpdate.Status.CurrentNumberScheduled = st.CurrentNumberScheduled
		toUpdate.Status.NumberMisscheduled = st.NumberMisscheduled
		toUpdate.Status.NumberReady = st.NumberReady
		toUpdate.Status.UpdatedNumberScheduled = st.UpdatedNumberScheduled
		toUpdate.Status.NumberAvailable = st.NumberAvailable
		toUpdate.Status.NumberUnavailable = st.NumberUnavailable
		if _, updateErr = client.UpdateStatus(ctx, toUpdate, metav1.UpdateOptions{}); updateErr == nil {
			return nil
		}
		if i >= StatusUpdateRetries {
			return updateErr
		}
		var getErr error
		if toUpdate, getErr = client.Get(ctx, ds.Name, metav1.GetOptions{}); getErr != nil {
			return getErr
		}
	}
}
