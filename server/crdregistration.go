package server

import (
	"context"
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdinformers "k8s.io/apiextensions-apiserver/pkg/client/informers/externalversions/apiextensions/v1"
	crdlisters "k8s.io/apiextensions-apiserver/pkg/client/listers/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
)

// CRD group versions sort after every built-in group (the lowest of those is
// 15700) and among themselves by Kubernetes version ordering, as upstream
// registers them.
const (
	crdGroupPriorityMinimum = 1000
	crdVersionPriority      = 100
)

// apiServiceSyncer is the part of the aggregator's autoregister controller
// that CRD registration drives: it keeps the named local APIServices present
// until told to drop them.
type apiServiceSyncer interface {
	AddAPIServiceToSync(in *apiregistrationv1.APIService)
	RemoveAPIServiceToSync(name string)
}

// crdRegistrationController keeps one local APIService for every group
// version some CustomResourceDefinition serves, so that the aggregator routes
// custom resources to the CRD server and lists their groups in /apis.
type crdRegistrationController struct {
	crds   crdlisters.CustomResourceDefinitionLister
	synced cache.InformerSynced
	apis   apiServiceSyncer
	queue  workqueue.TypedRateLimitingInterface[schema.GroupVersion]
	// initialSync is closed once the CRDs present at start have been
	// registered, so that the autoregister controller, which deletes
	// automanaged APIServices nobody asked for, does not remove theirs.
	initialSync chan struct{}
}

func newCRDRegistrationController(informer crdinformers.CustomResourceDefinitionInformer, apis apiServiceSyncer) (*crdRegistrationController, error) {
	c := &crdRegistrationController{
		crds:        informer.Lister(),
		synced:      informer.Informer().HasSynced,
		apis:        apis,
		initialSync: make(chan struct{}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[schema.GroupVersion](),
			workqueue.TypedRateLimitingQueueConfig[schema.GroupVersion]{Name: "crd_autoregistration_controller"},
		),
	}
	_, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue,
		// Both sides of an update: a version the new object no longer
		// serves must lose its APIService.
		UpdateFunc: func(oldObj, newObj any) { c.enqueue(oldObj); c.enqueue(newObj) },
		DeleteFunc: c.enqueue,
	})
	if err != nil {
		return nil, fmt.Errorf("watching CustomResourceDefinitions: %w", err)
	}
	return c, nil
}

func (c *crdRegistrationController) enqueue(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
	if !ok {
		klog.V(2).InfoS("Ignoring an object that is not a CustomResourceDefinition", "type", fmt.Sprintf("%T", obj))
		return
	}
	for _, v := range crd.Spec.Versions {
		c.queue.Add(schema.GroupVersion{Group: crd.Spec.Group, Version: v.Name})
	}
}

// Run registers the existing CRDs' group versions once, signals the initial
// sync, then follows changes until ctx is done.
func (c *crdRegistrationController) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()

	klog.InfoS("Starting crd-autoregister controller")
	defer klog.InfoS("Shutting down crd-autoregister controller")
	if !cache.WaitForNamedCacheSyncWithContext(ctx, c.synced) {
		return
	}

	crds, err := c.crds.List(labels.Everything())
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("listing CustomResourceDefinitions: %w", err))
	}
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			if err := c.sync(schema.GroupVersion{Group: crd.Spec.Group, Version: v.Name}); err != nil {
				utilruntime.HandleError(err)
			}
		}
	}
	close(c.initialSync)

	for range workers {
		go wait.UntilWithContext(ctx, c.worker, time.Second)
	}
	<-ctx.Done()
}

// WaitForInitialSync blocks until Run has registered the CRDs that existed
// when it started.
func (c *crdRegistrationController) WaitForInitialSync(ctx context.Context) bool {
	select {
	case <-c.initialSync:
		return true
	case <-ctx.Done():
		return false
	}
}

func (c *crdRegistrationController) worker(context.Context) {
	for c.processNext() {
	}
}

func (c *crdRegistrationController) processNext() bool {
	gv, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(gv)
	if err := c.sync(gv); err != nil {
		utilruntime.HandleError(fmt.Errorf("registering the APIService of %v: %w", gv, err))
		c.queue.AddRateLimited(gv)
		return true
	}
	c.queue.Forget(gv)
	return true
}

// sync registers gv's APIService when any CRD serves gv and drops it
// otherwise. Several CRDs share a group, so all of them are consulted.
func (c *crdRegistrationController) sync(gv schema.GroupVersion) error {
	name := gv.Version + "." + gv.Group
	crds, err := c.crds.List(labels.Everything())
	if err != nil {
		return err
	}
	for _, crd := range crds {
		if crd.Spec.Group == gv.Group && servesVersion(crd, gv.Version) {
			c.apis.AddAPIServiceToSync(crdAPIService(gv))
			return nil
		}
	}
	c.apis.RemoveAPIServiceToSync(name)
	return nil
}

func servesVersion(crd *apiextensionsv1.CustomResourceDefinition, version string) bool {
	for _, v := range crd.Spec.Versions {
		if v.Name == version && v.Served {
			return true
		}
	}
	return false
}

func crdAPIService(gv schema.GroupVersion) *apiregistrationv1.APIService {
	return &apiregistrationv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: gv.Version + "." + gv.Group},
		Spec: apiregistrationv1.APIServiceSpec{
			Group:                gv.Group,
			Version:              gv.Version,
			GroupPriorityMinimum: crdGroupPriorityMinimum,
			VersionPriority:      crdVersionPriority,
		},
	}
}
