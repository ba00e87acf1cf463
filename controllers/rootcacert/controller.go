// Package rootcacert is Kubernetes' root-ca-cert-publisher: it keeps a
// ConfigMap kube-root-ca.crt in every namespace holding the CA bundle that
// verifies the API server, which projected service account volumes mount
// next to the token.
package rootcacert

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
	"github.com/skiff-dev/skiff/internal/useragent"
)

const (
	// ConfigMapName is the ConfigMap published in every namespace.
	ConfigMapName = "kube-root-ca.crt"
	// DataKey holds the PEM bundle in the ConfigMap.
	DataKey = "ca.crt"
	// DescriptionAnnotation and Description say what the ConfigMap is for,
	// in the words Kubernetes uses.
	DescriptionAnnotation = "kubernetes.io/description"
	Description           = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
		"No other usage is guaranteed across distributions of Kubernetes clusters."

	// DefaultWorkers is what kube-controller-manager runs the publisher with.
	DefaultWorkers = 1

	controllerName = "root-ca-cert-publisher"
)

// Controller publishes the root CA bundle into every namespace.
type Controller struct {
	client     kubernetes.Interface
	rootCA     string
	namespaces corelisters.NamespaceLister
	configMaps corelisters.ConfigMapLister
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
}

// NewForConfig builds a Controller on its own client from config, named as
// kube-controller-manager names this controller's client.
func NewForConfig(config *rest.Config, namespaces coreinformers.NamespaceInformer, configMaps coreinformers.ConfigMapInformer, rootCA []byte) (*Controller, error) {
	client, err := kubernetes.NewForConfig(useragent.Default(config, controllerName))
	if err != nil {
		return nil, fmt.Errorf("root CA publisher client: %w", err)
	}
	return New(client, namespaces, configMaps, rootCA), nil
}

// New returns a controller that writes rootCA, a PEM bundle, through client
// into the namespaces the informers show.
func New(client kubernetes.Interface, namespaces coreinformers.NamespaceInformer, configMaps coreinformers.ConfigMapInformer, rootCA []byte) *Controller {
	c := &Controller{
		client:     client,
		rootCA:     string(rootCA),
		namespaces: namespaces.Lister(),
		configMaps: configMaps.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "root_ca_cert_publisher"}),
	}
	nsHandler, err := namespaces.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueNamespace,
		UpdateFunc: func(_, obj any) { c.enqueueNamespace(obj) },
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching namespaces for the root CA publisher: %w", err))
	}
	cmHandler, err := configMaps.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { c.enqueueConfigMap(obj) },
		DeleteFunc: c.enqueueConfigMap,
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching configmaps for the root CA publisher: %w", err))
	}
	for _, h := range []cache.ResourceEventHandlerRegistration{nsHandler, cmHandler} {
		if h != nil {
			c.synced = append(c.synced, h.HasSynced)
		}
	}
	return c
}

// enqueueNamespace queues active namespaces; a terminating one refuses new
// content anyway.
func (c *Controller) enqueueNamespace(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok && ns.Status.Phase != corev1.NamespaceTerminating {
		c.queue.Add(ns.Name)
	}
}

// enqueueConfigMap queues the namespace of a published ConfigMap that was
// changed or deleted, so that it is put back.
func (c *Controller) enqueueConfigMap(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	if cm, ok := obj.(*corev1.ConfigMap); ok && cm.Name == ConfigMapName {
		c.queue.Add(cm.Namespace)
	}
}

// Run reconciles with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	loop := &worker.Loop{Name: controllerName, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

// Sync creates or corrects the ConfigMap in the namespace named key.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, err := c.namespaces.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading namespace %s from the cache: %w", key, err)
	}
	if ns.Status.Phase == corev1.NamespaceTerminating {
		return nil
	}
	want := map[string]string{DataKey: c.rootCA}
	cm, err := c.configMaps.ConfigMaps(key).Get(ConfigMapName)
	if apierrors.IsNotFound(err) {
		_, err = c.client.CoreV1().ConfigMaps(key).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{
				Name:        ConfigMapName,
				Namespace:   key,
				Annotations: map[string]string{DescriptionAnnotation: Description},
			},
			Data: want,
		}, metav1.CreateOptions{})
		// A namespace gone or going needs no ConfigMap. AlreadyExists is
		// retried: the cache will then show the ConfigMap to check.
		if err == nil || apierrors.IsNotFound(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		return fmt.Errorf("creating configmap %s/%s: %w", key, ConfigMapName, err)
	}
	if err != nil {
		return fmt.Errorf("reading configmap %s/%s from the cache: %w", key, ConfigMapName, err)
	}
	// Only the data and the description are ours; other annotations,
	// labels and binary data a user added stay.
	if maps.Equal(cm.Data, want) && cm.Annotations[DescriptionAnnotation] != "" {
		return nil
	}
	cm = cm.DeepCopy()
	cm.Data = want
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[DescriptionAnnotation] = Description
	if _, err := c.client.CoreV1().ConfigMaps(key).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating configmap %s/%s: %w", key, ConfigMapName, err)
	}
	return nil
}
