// Package pods holds what several controllers do to pods the same way
// upstream's shared helpers do: find the pods bound to a node through an
// informer index, set a pod condition, and patch a pod's status guarded by
// its UID.
package pods

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// NodeNameIndex is the pod informer index by spec.nodeName, under the name
// kube-controller-manager's controllers share.
const NodeNameIndex = "spec.nodeName"

// IndexByNodeName adds NodeNameIndex to the pod informer unless another
// controller sharing the informer already did; it must be called before
// the informer starts.
func IndexByNodeName(informer cache.SharedIndexInformer) error {
	if _, ok := informer.GetIndexer().GetIndexers()[NodeNameIndex]; ok {
		return nil
	}
	err := informer.AddIndexers(cache.Indexers{NodeNameIndex: func(obj any) ([]string, error) {
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.Spec.NodeName == "" {
			return nil, nil
		}
		return []string{pod.Spec.NodeName}, nil
	}})
	if err != nil {
		return fmt.Errorf("indexing pods by node name: %w", err)
	}
	return nil
}

// OnNode returns the pods the indexer holds bound to node.
func OnNode(indexer cache.Indexer, node string) ([]*corev1.Pod, error) {
	objs, err := indexer.ByIndex(NodeNameIndex, node)
	if err != nil {
		return nil, fmt.Errorf("listing pods on node %s: %w", node, err)
	}
	pods := make([]*corev1.Pod, 0, len(objs))
	for _, obj := range objs {
		if pod, ok := obj.(*corev1.Pod); ok {
			pods = append(pods, pod)
		}
	}
	return pods, nil
}

// UpdateCondition sets cond in status, keeping its last transition time
// when the status did not change, and reports whether anything changed.
func UpdateCondition(status *corev1.PodStatus, cond corev1.PodCondition) bool {
	cond.LastTransitionTime = metav1.Now()
	for i := range status.Conditions {
		old := &status.Conditions[i]
		if old.Type != cond.Type {
			continue
		}
		if cond.Status == old.Status {
			cond.LastTransitionTime = old.LastTransitionTime
		}
		same := cond.Status == old.Status && cond.Reason == old.Reason && cond.Message == old.Message &&
			cond.LastProbeTime.Equal(&old.LastProbeTime) && cond.LastTransitionTime.Equal(&old.LastTransitionTime)
		*old = cond
		return !same
	}
	status.Conditions = append(status.Conditions, cond)
	return true
}

// PatchStatus writes newStatus over pod's status with a strategic merge
// patch that carries the pod's UID, so that a pod recreated under the same
// name is never touched. Nothing is sent when nothing changed.
func PatchStatus(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod, newStatus corev1.PodStatus) error {
	oldData, err := json.Marshal(corev1.Pod{Status: pod.Status})
	if err != nil {
		return fmt.Errorf("encoding the status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	newData, err := json.Marshal(corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: pod.UID}, Status: newStatus})
	if err != nil {
		return fmt.Errorf("encoding the status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldData, newData, corev1.Pod{})
	if err != nil {
		return fmt.Errorf("making a status patch for pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	if string(patch) == fmt.Sprintf(`{"metadata":{"uid":%q}}`, pod.UID) {
		return nil
	}
	if _, err := client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("patching the status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
