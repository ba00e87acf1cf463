// Package worker runs the workqueue loop every skiff controller shares: wait
// for the caches, then let workers take keys and call sync, retrying failures
// with the queue's rate limiter.
package worker

import (
	"context"
	"sync"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// Loop is one controller's queue and reconcile function.
type Loop struct {
	// Name is the controller's name in logs.
	Name  string
	Queue workqueue.TypedRateLimitingInterface[string]
	// Sync reconciles one key; an error requeues the key with backoff.
	Sync func(ctx context.Context, key string) error
	// Synced are the informers that must have synced before work starts.
	Synced []cache.InformerSynced
	// MaxRetries drops a key after this many failures in a row; 0 retries forever.
	MaxRetries int
}

// Run processes keys with workers goroutines until ctx ends, then shuts the
// queue down and waits for the workers.
func (l *Loop) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrashWithContext(ctx)
	logger := klog.FromContext(ctx)
	logger.Info("Starting", "controller", l.Name)
	var wg sync.WaitGroup
	defer func() {
		logger.Info("Shutting down", "controller", l.Name)
		l.Queue.ShutDown()
		wg.Wait()
	}()
	if !cache.WaitForNamedCacheSyncWithContext(ctx, l.Synced...) {
		return
	}
	for range workers {
		wg.Go(func() {
			wait.UntilWithContext(ctx, func(ctx context.Context) {
				for l.next(ctx) {
				}
			}, time.Second)
		})
	}
	<-ctx.Done()
}

// next handles one key; it returns false once the queue is shut down.
func (l *Loop) next(ctx context.Context) bool {
	key, quit := l.Queue.Get()
	if quit {
		return false
	}
	defer l.Queue.Done(key)
	err := l.Sync(ctx, key)
	switch {
	case err == nil:
		l.Queue.Forget(key)
	case l.MaxRetries == 0 || l.Queue.NumRequeues(key) < l.MaxRetries:
		utilruntime.HandleErrorWithContext(ctx, err, "Work item failed, retrying", "controller", l.Name, "key", key)
		l.Queue.AddRateLimited(key)
	default:
		utilruntime.HandleErrorWithContext(ctx, err, "Work item failed too often, dropping it", "controller", l.Name, "key", key)
		l.Queue.Forget(key)
	}
	return true
}
