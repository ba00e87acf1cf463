// Package tokencleaner is Kubernetes' tokencleaner controller: it deletes
// bootstrap token secrets once their expiration has passed, so an expired
// token disappears from `skiff token list` as well as failing to
// authenticate.
package tokencleaner

import (
	"context"
	"fmt"
	"time"

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
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstrapsecret "k8s.io/cluster-bootstrap/util/secrets"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
	"github.com/skiff-dev/skiff/internal/useragent"
)

const (
	// DefaultWorkers is one: expirations are rare and cheap to act on.
	DefaultWorkers = 1

	controllerName = "token-cleaner"
)

// Controller deletes expired bootstrap tokens in kube-system.
type Controller struct {
	client  kubernetes.Interface
	secrets corelisters.SecretNamespaceLister
	synced  []cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]
	now     func() time.Time
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, secrets coreinformers.SecretInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(useragent.Default(config, controllerName))
	if err != nil {
		return nil, fmt.Errorf("token cleaner client: %w", err)
	}
	return New(client, secrets), nil
}

// New returns a controller that deletes through client the expired
// bootstrap tokens the informer shows.
func New(client kubernetes.Interface, secrets coreinformers.SecretInformer) *Controller {
	c := &Controller{
		client:  client,
		secrets: secrets.Lister().Secrets(metav1.NamespaceSystem),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "token_cleaner"}),
		now: time.Now,
	}
	h, err := secrets.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: isBootstrapToken,
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueue,
			UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		},
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching secrets for the token cleaner: %w", err))
	} else {
		c.synced = append(c.synced, h.HasSynced)
	}
	return c
}

func isBootstrapToken(obj any) bool {
	s, ok := obj.(*corev1.Secret)
	return ok && s.Namespace == metav1.NamespaceSystem && s.Type == bootstrapapi.SecretTypeBootstrapToken
}

func (c *Controller) enqueue(obj any) {
	if s, ok := obj.(*corev1.Secret); ok {
		c.queue.Add(s.Name)
	}
}

// Run reconciles with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	loop := &worker.Loop{Name: controllerName, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

// Sync deletes the token secret named key if it has expired, and otherwise
// looks at it again when it will have.
func (c *Controller) Sync(ctx context.Context, key string) error {
	s, err := c.secrets.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading secret %s/%s from the cache: %w", metav1.NamespaceSystem, key, err)
	}
	if s.DeletionTimestamp != nil || !isBootstrapToken(s) {
		return nil
	}
	left, expired := bootstrapsecret.GetExpiration(s, c.now())
	if !expired {
		if left > 0 {
			c.queue.AddAfter(key, left)
		}
		return nil
	}
	klog.FromContext(ctx).V(2).Info("Deleting expired bootstrap token", "secret", klog.KObj(s))
	// The UID precondition keeps a token recreated under the same name
	// since the cache was filled.
	err = c.client.CoreV1().Secrets(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting expired bootstrap token %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}
