package replicaset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// NewForConfig builds the ReplicaSet controller on its own client.
func NewForConfig(config *rest.Config, rsInformer appsinformers.ReplicaSetInformer, pods coreinformers.PodInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("replicaset controller client: %w", err)
	}
	return New(client, rsInformer, pods)
}

// New returns the ReplicaSet controller.
func New(client kubernetes.Interface, rsInformer appsinformers.ReplicaSetInformer, pods coreinformers.PodInformer) (*Controller, error) {
	lister := rsInformer.Lister()
	o := owners{
		gvk:      appsv1.SchemeGroupVersion.WithKind("ReplicaSet"),
		informer: rsInformer.Informer(),
		convert: func(obj any) *appsv1.ReplicaSet {
			rs, _ := obj.(*appsv1.ReplicaSet)
			return rs
		},
		get: func(namespace, name string) (*appsv1.ReplicaSet, error) {
			return lister.ReplicaSets(namespace).Get(name)
		},
		list: func(namespace string) ([]*appsv1.ReplicaSet, error) {
			return lister.ReplicaSets(namespace).List(labels.Everything())
		},
		getLive: func(ctx context.Context, namespace, name string) (*appsv1.ReplicaSet, error) {
			return client.AppsV1().ReplicaSets(namespace).Get(ctx, name, metav1.GetOptions{})
		},
		updateStatus: func(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
			return client.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(ctx, rs, metav1.UpdateOptions{})
		},
		eventObject:         func(rs *appsv1.ReplicaSet) runtime.Object { return rs },
		terminatingReplicas: true,
		consistent:          true,
	}
	return newController("replicaset-controller", "replicaset", o, pods, client)
}

// NewReplicationManagerForConfig builds the ReplicationController
// controller on its own client.
func NewReplicationManagerForConfig(config *rest.Config, rcInformer coreinformers.ReplicationControllerInformer, pods coreinformers.PodInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("replication controller client: %w", err)
	}
	return NewReplicationManager(client, rcInformer, pods)
}

// NewReplicationManager returns the ReplicationController controller: the
// ReplicaSet controller working on ReplicationControllers converted to
// ReplicaSets.
func NewReplicationManager(client kubernetes.Interface, rcInformer coreinformers.ReplicationControllerInformer, pods coreinformers.PodInformer) (*Controller, error) {
	lister := rcInformer.Lister()
	convertAll := func(rcs []*corev1.ReplicationController) []*appsv1.ReplicaSet {
		out := make([]*appsv1.ReplicaSet, 0, len(rcs))
		for _, rc := range rcs {
			out = append(out, rsFromRC(rc))
		}
		return out
	}
	o := owners{
		gvk:      corev1.SchemeGroupVersion.WithKind("ReplicationController"),
		informer: rcInformer.Informer(),
		convert: func(obj any) *appsv1.ReplicaSet {
			rc, ok := obj.(*corev1.ReplicationController)
			if !ok {
				return nil
			}
			return rsFromRC(rc)
		},
		get: func(namespace, name string) (*appsv1.ReplicaSet, error) {
			rc, err := lister.ReplicationControllers(namespace).Get(name)
			if err != nil {
				return nil, err
			}
			return rsFromRC(rc), nil
		},
		list: func(namespace string) ([]*appsv1.ReplicaSet, error) {
			rcs, err := lister.ReplicationControllers(namespace).List(labels.Everything())
			return convertAll(rcs), err
		},
		getLive: func(ctx context.Context, namespace, name string) (*appsv1.ReplicaSet, error) {
			rc, err := client.CoreV1().ReplicationControllers(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return rsFromRC(rc), nil
		},
		updateStatus: func(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
			rc, err := client.CoreV1().ReplicationControllers(rs.Namespace).UpdateStatus(ctx, rcFromRS(rs), metav1.UpdateOptions{})
			if err != nil {
				return nil, err
			}
			return rsFromRC(rc), nil
		},
		eventObject: func(rs *appsv1.ReplicaSet) runtime.Object { return rcFromRS(rs) },
	}
	return newController("replication-controller", "replicationmanager", o, pods, client)
}

// rsFromRC is a ReplicationController as the ReplicaSet it would be: its
// selector as matchLabels.
func rsFromRC(rc *corev1.ReplicationController) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		ObjectMeta: *rc.ObjectMeta.DeepCopy(),
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        rc.Spec.Replicas,
			MinReadySeconds: rc.Spec.MinReadySeconds,
			Selector:        &metav1.LabelSelector{MatchLabels: copyMap(rc.Spec.Selector)},
		},
		Status: appsv1.ReplicaSetStatus{
			Replicas:             rc.Status.Replicas,
			FullyLabeledReplicas: rc.Status.FullyLabeledReplicas,
			ReadyReplicas:        rc.Status.ReadyReplicas,
			AvailableReplicas:    rc.Status.AvailableReplicas,
			ObservedGeneration:   rc.Status.ObservedGeneration,
		},
	}
	if rs.Spec.Replicas == nil {
		rs.Spec.Replicas = ptrTo(int32(1))
	} else {
		rs.Spec.Replicas = ptrTo(*rs.Spec.Replicas)
	}
	if rc.Spec.Template != nil {
		rs.Spec.Template = *rc.Spec.Template.DeepCopy()
	}
	for _, c := range rc.Status.Conditions {
		rs.Status.Conditions = append(rs.Status.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetConditionType(c.Type), Status: c.Status, LastTransitionTime: c.LastTransitionTime,
			Reason: c.Reason, Message: c.Message,
		})
	}
	return rs
}

// rcFromRS turns a converted ReplicationController back.
func rcFromRS(rs *appsv1.ReplicaSet) *corev1.ReplicationController {
	rc := &corev1.ReplicationController{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ReplicationController"},
		ObjectMeta: *rs.ObjectMeta.DeepCopy(),
		Spec: corev1.ReplicationControllerSpec{
			Replicas:        ptrTo(*rs.Spec.Replicas),
			MinReadySeconds: rs.Spec.MinReadySeconds,
			Template:        rs.Spec.Template.DeepCopy(),
		},
		Status: corev1.ReplicationControllerStatus{
			Replicas:             rs.Status.Replicas,
			FullyLabeledReplicas: rs.Status.FullyLabeledReplicas,
			ReadyReplicas:        rs.Status.ReadyReplicas,
			AvailableReplicas:    rs.Status.AvailableReplicas,
			ObservedGeneration:   rs.Status.ObservedGeneration,
		},
	}
	if rs.Spec.Selector != nil {
		rc.Spec.Selector = copyMap(rs.Spec.Selector.MatchLabels)
	}
	for _, c := range rs.Status.Conditions {
		rc.Status.Conditions = append(rc.Status.Conditions, corev1.ReplicationControllerCondition{
			Type: corev1.ReplicationControllerConditionType(c.Type), Status: c.Status, LastTransitionTime: c.LastTransitionTime,
			Reason: c.Reason, Message: c.Message,
		})
	}
	return rc
}
