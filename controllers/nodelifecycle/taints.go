package nodelifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

func taintExists(taints []corev1.Taint, t *corev1.Taint) bool {
	for i := range taints {
		if taints[i].MatchTaint(t) {
			return true
		}
	}
	return false
}

// withTaint returns taints with t added, or replacing the one with its
// key and effect, and whether that changed anything.
func withTaint(taints []corev1.Taint, t *corev1.Taint) ([]corev1.Taint, bool) {
	out := make([]corev1.Taint, 0, len(taints)+1)
	replaced := false
	for i := range taints {
		if t.MatchTaint(&taints[i]) {
			if apiequality.Semantic.DeepEqual(*t, taints[i]) {
				return taints, false
			}
			out = append(out, *t)
			replaced = true
			continue
		}
		out = append(out, taints[i])
	}
	if !replaced {
		out = append(out, *t)
	}
	return out, true
}

func withoutTaint(taints []corev1.Taint, t *corev1.Taint) ([]corev1.Taint, bool) {
	if !taintExists(taints, t) {
		return taints, false
	}
	out := make([]corev1.Taint, 0, len(taints))
	for i := range taints {
		if !t.MatchTaint(&taints[i]) {
			out = append(out, taints[i])
		}
	}
	return out, true
}

// changeTaints adds and removes taints on node by a patch of spec.taints
// guarded by the resource version, retried on conflict. The first read is
// from the API server's cache, later ones are fresh, as upstream's.
func changeTaints(ctx context.Context, client kubernetes.Interface, name string, add, remove []*corev1.Taint) error {
	if len(add) == 0 && len(remove) == 0 {
		return nil
	}
	first := true
	// Upstream's pace for taint updates.
	return retry.RetryOnConflict(wait.Backoff{Steps: 5, Duration: 100 * time.Millisecond, Jitter: 1.0}, func() error {
		opts := metav1.GetOptions{}
		if first {
			opts.ResourceVersion = "0"
			first = false
		}
		node, err := client.CoreV1().Nodes().Get(ctx, name, opts)
		if err != nil {
			return err
		}
		taints, changed := node.Spec.Taints, false
		for _, t := range add {
			var c bool
			taints, c = withTaint(taints, t)
			changed = changed || c
		}
		for _, t := range remove {
			var c bool
			taints, c = withoutTaint(taints, t)
			changed = changed || c
		}
		if !changed {
			return nil
		}
		return patchTaints(ctx, client, node, taints)
	})
}

// patchTaints patches spec.taints, which has no merge key, with the
// resource version as a precondition so that concurrent changes conflict.
func patchTaints(ctx context.Context, client kubernetes.Interface, node *corev1.Node, taints []corev1.Taint) error {
	old := node.DeepCopy()
	old.ResourceVersion = ""
	oldData, err := json.Marshal(old)
	if err != nil {
		return fmt.Errorf("encoding node %s: %w", node.Name, err)
	}
	cur := node.DeepCopy()
	cur.Spec.Taints = taints
	newData, err := json.Marshal(cur)
	if err != nil {
		return fmt.Errorf("encoding node %s: %w", node.Name, err)
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldData, newData, corev1.Node{})
	if err != nil {
		return fmt.Errorf("making a taint patch for node %s: %w", node.Name, err)
	}
	_, err = client.CoreV1().Nodes().Patch(ctx, node.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	return err
}
