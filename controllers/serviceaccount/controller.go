// Package serviceaccount is Kubernetes' serviceaccount controller: every
// active namespace gets a ServiceAccount named "default", and gets it back
// when it is deleted. Pods that name no service account run as it, so a
// namespace without one cannot run pods.
package serviceaccount

import (
	"context"
	"fmt"

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
	"k8s.io/klog/v2"
)

const (
	// DefaultName is the ServiceAccount every namespace gets.
	DefaultName = "default"
	// DefaultWorkers is what kube-controller-manager runs this controller
	// with; each sync is at most one create, so one worker keeps up.
	DefaultWorkers = 1

	controllerName = "serviceaccount-controller"
)

// Controller ensures the default ServiceAccount in every active namespace.
type Controller struct {
	client     kubernetes.Interface
	namespaces corelisters.NamespaceLister
	accounts   corelisters.ServiceAccountLister
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
}

// NewForConfig builds a Controller on its own client from config, named as
// kube-controller-manager names this controller's client.
func NewForConfig(config *rest.Config, namespaces coreinformers.NamespaceInformer, accounts coreinformers.ServiceAccountInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(useragent.Default(config, "service-account-controller"))
	if err != nil {
		return nil, fmt.Errorf("serviceaccount controller client: %w", err)
	}
	return New(client, namespaces, accounts), nil
}

// New returns a controller that creates ServiceAccounts through client in the
// namespaces the informers show.
func New(client kubernetes.Interface, namespaces coreinformers.NamespaceInformer, accounts coreinformers.ServiceAccountInformer) *Controller {
	c := &Controller{
		client:     client,
		namespaces: namespaces.Lister(),
		accounts:   accounts.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "serviceaccount"}),
	}
	nsHandler, err := namespaces.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueNamespace,
		UpdateFunc: func(_, obj any) { c.enqueueNamespace(obj) },
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching namespaces for the serviceaccount controller: %w", err))
	}
	saHandler, err := accounts.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: c.accountDeleted,
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching serviceaccounts for the serviceaccount controller: %w", err))
	}
	// The handlers' own sync, not the informers': a namespace added before
	// the handler was registered is only queued once the handler saw it.
	for _, h := range []cache.ResourceEventHandlerRegistration{nsHandler, saHandler} {
		if h != nil {
			c.synced = append(c.synced, h.HasSynced)
		}
	}
	return c
}

func (c *Controller) enqueueNamespace(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		c.queue.Add(ns.Name)
	}
}

// accountDeleted queues the namespace of a deleted default ServiceAccount so
// that it is recreated.
func (c *Controller) accountDeleted(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	sa, ok := obj.(*corev1.ServiceAccount)
	if !ok || sa.Name != DefaultName {
		return
	}
	c.queue.Add(sa.Namespace)
}

// Run reconciles with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	loop := &worker.Loop{Name: controllerName, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

// Sync creates the default ServiceAccount in the namespace named key if the
// namespace is active and has none.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, err := c.namespaces.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading namespace %s from the cache: %w", key, err)
	}
	if ns.Status.Phase != corev1.NamespaceActive {
		return nil
	}
	_, err = c.accounts.ServiceAccounts(key).Get(DefaultName)
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading serviceaccount %s/%s from the cache: %w", key, DefaultName, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: DefaultName, Namespace: key}}
	_, err = c.client.CoreV1().ServiceAccounts(key).Create(ctx, sa, metav1.CreateOptions{})
	switch {
	case err == nil:
		klog.FromContext(ctx).V(2).Info("Created default service account", "namespace", key)
		return nil
	// A cache behind the API, or a namespace that began terminating since:
	// neither is a failure worth retrying.
	case apierrors.IsAlreadyExists(err), apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil
	default:
		return fmt.Errorf("creating serviceaccount %s/%s: %w", key, DefaultName, err)
	}
}
