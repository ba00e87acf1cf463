package history

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// PodClaimer is upstream's ControllerRefManager for pods: a controller owns
// the pods whose controller reference names it, adopts matching orphans and
// releases owned pods that stopped matching.
type PodClaimer struct {
	Client   kubernetes.Interface
	Owner    metav1.Object
	Kind     schema.GroupVersionKind
	Selector labels.Selector
	// Filter, if set, is one more condition a pod must meet to be claimed.
	Filter func(*corev1.Pod) bool
	// Fresh reads the owner from the API server: adoption must not happen
	// for an owner that is being deleted, which the cache may not show yet.
	Fresh func(ctx context.Context) (metav1.Object, error)

	canAdoptErr error
	checked     bool
}

func (c *PodClaimer) canAdopt(ctx context.Context) error {
	if c.checked {
		return c.canAdoptErr
	}
	c.checked = true
	fresh, err := c.Fresh(ctx)
	switch {
	case err != nil:
		c.canAdoptErr = err
	case fresh.GetUID() != c.Owner.GetUID():
		c.canAdoptErr = fmt.Errorf("original %s %s/%s is gone: got uid %s, wanted %s", c.Kind.Kind, c.Owner.GetNamespace(), c.Owner.GetName(), fresh.GetUID(), c.Owner.GetUID())
	case fresh.GetDeletionTimestamp() != nil:
		c.canAdoptErr = fmt.Errorf("%s %s/%s has just been deleted at %v", c.Kind.Kind, c.Owner.GetNamespace(), c.Owner.GetName(), fresh.GetDeletionTimestamp())
	}
	return c.canAdoptErr
}

// Claim returns the pods the owner controls after adopting and releasing.
func (c *PodClaimer) Claim(ctx context.Context, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	var claimed []*corev1.Pod
	var errs []error
	for _, pod := range pods {
		match := c.Selector.Matches(labels.Set(pod.Labels)) && (c.Filter == nil || c.Filter(pod))
		ref := metav1.GetControllerOfNoCopy(pod)
		if ref != nil {
			if ref.UID != c.Owner.GetUID() {
				continue
			}
			if match {
				claimed = append(claimed, pod)
				continue
			}
			if c.Owner.GetDeletionTimestamp() != nil {
				continue
			}
			if err := c.release(ctx, pod); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if !match || c.Owner.GetDeletionTimestamp() != nil || pod.DeletionTimestamp != nil {
			continue
		}
		if err := c.canAdopt(ctx); err != nil {
			errs = append(errs, fmt.Errorf("can't adopt Pod %s/%s (%s): %w", pod.Namespace, pod.Name, pod.UID, err))
			continue
		}
		adopted, err := c.adopt(ctx, pod)
		if err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		claimed = append(claimed, adopted)
	}
	if len(errs) > 0 {
		return claimed, fmt.Errorf("claiming pods for %s %s/%s: %v", c.Kind.Kind, c.Owner.GetNamespace(), c.Owner.GetName(), errs)
	}
	return claimed, nil
}

func (c *PodClaimer) adopt(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	patch, err := AdoptPatch(c.Owner, c.Kind, pod.UID)
	if err != nil {
		return nil, err
	}
	klog.FromContext(ctx).V(2).Info("Adopting pod", "pod", klog.KObj(pod), "owner", klog.KObj(c.Owner))
	return c.Client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
}

func (c *PodClaimer) release(ctx context.Context, pod *corev1.Pod) error {
	patch, err := ReleasePatch(pod.UID, c.Owner.GetUID())
	if err != nil {
		return err
	}
	klog.FromContext(ctx).V(2).Info("Releasing pod", "pod", klog.KObj(pod), "owner", klog.KObj(c.Owner))
	_, err = c.Client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	// Gone, or its uid changed: either way it is no longer ours.
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil
	}
	return err
}
