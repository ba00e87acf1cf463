package resourcequota

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	quota "k8s.io/apiserver/pkg/quota/v1"
	"k8s.io/apiserver/pkg/quota/v1/generic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	skiffquota "github.com/skiff-dev/skiff/registry/quota"
)

// fullObjectResources are the resources whose usage depends on more than
// their metadata; all others are counted by object.
var fullObjectResources = map[schema.GroupResource]bool{
	{Resource: "pods"}:                   true,
	{Resource: "services"}:               true,
	{Resource: "persistentvolumeclaims"}: true,
}

// monitor watches every quotable resource and reports the deletions and the
// updates that release quota.
type monitor struct {
	typed     informers.SharedInformerFactory
	metadata  metadatainformer.SharedInformerFactory
	ignored   map[schema.GroupResource]struct{}
	replenish func(gr schema.GroupResource, namespace string)
	// registry gains an object count evaluator for each watched resource
	// that has none of its own.
	registry quota.Registry

	mu      sync.RWMutex
	watched map[schema.GroupVersionResource]cache.SharedIndexInformer
}

func newMonitor(typed informers.SharedInformerFactory, metadata metadatainformer.SharedInformerFactory, replenish func(schema.GroupResource, string)) *monitor {
	return &monitor{
		typed:     typed,
		metadata:  metadata,
		ignored:   skiffquota.IgnoredResources(),
		replenish: replenish,
		watched:   map[schema.GroupVersionResource]cache.SharedIndexInformer{},
	}
}

// informerFor returns the informer the controller watches and lists
// resource through.
func (m *monitor) informerFor(gvr schema.GroupVersionResource) (informers.GenericInformer, error) {
	if fullObjectResources[gvr.GroupResource()] {
		inf, err := m.typed.ForResource(gvr)
		if err != nil {
			return nil, fmt.Errorf("no typed informer for %s: %w", gvr, err)
		}
		return inf, nil
	}
	return m.metadata.ForResource(gvr), nil
}

// needs reports whether resources include one not watched yet.
func (m *monitor) needs(resources map[schema.GroupVersionResource]struct{}) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for gvr := range resources {
		if _, ignored := m.ignored[gvr.GroupResource()]; ignored {
			continue
		}
		if _, ok := m.watched[gvr]; !ok {
			return true
		}
	}
	return false
}

// watch starts watching the resources not watched yet. Resources that
// disappeared stay watched: the informers are shared and cannot be stopped
// one by one, and their evaluators simply find no objects.
func (m *monitor) watch(ctx context.Context, resources map[schema.GroupVersionResource]struct{}) {
	logger := klog.FromContext(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	added := 0
	for gvr := range resources {
		if _, ignored := m.ignored[gvr.GroupResource()]; ignored {
			continue
		}
		if _, ok := m.watched[gvr]; ok {
			continue
		}
		inf, err := m.informerFor(gvr)
		if err != nil {
			utilruntime.HandleErrorWithContext(ctx, err, "Unable to monitor quota", "resource", gvr)
			continue
		}
		if _, err := inf.Informer().AddEventHandler(m.handlers(gvr)); err != nil {
			utilruntime.HandleErrorWithContext(ctx, err, "Unable to monitor quota", "resource", gvr)
			continue
		}
		if m.registry.Get(gvr.GroupResource()) == nil {
			list := generic.ListResourceUsingListerFunc(generic.ListerFuncForResourceFunc(m.informerFor), gvr)
			m.registry.Add(generic.NewObjectCountEvaluator(gvr.GroupResource(), list, ""))
		}
		m.watched[gvr] = inf.Informer()
		added++
	}
	m.typed.Start(ctx.Done())
	m.metadata.Start(ctx.Done())
	logger.V(2).Info("Quota monitors synced", "added", added, "total", len(m.watched))
}

func (m *monitor) handlers(gvr schema.GroupVersionResource) cache.ResourceEventHandler {
	gr := gvr.GroupResource()
	changed := func(obj any) {
		if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tombstone.Obj
		}
		accessor, err := meta.Accessor(obj)
		if err != nil {
			utilruntime.HandleError(fmt.Errorf("quota monitor for %s: %w", gvr, err))
			return
		}
		m.replenish(gr, accessor.GetNamespace())
	}
	return cache.ResourceEventHandlerDetailedFuncs{
		// kube-controller-manager ignores additions: admission charged the
		// quota for them already. But it charges before the object is
		// stored, and a recalculation that lists in between (a deletion's
		// replenishment, the periodic resync) writes the usage without the
		// object, leaving the quota undercharged until the next resync.
		// Recalculating on addition closes that window.
		AddFunc: func(obj any, isInInitialList bool) {
			if !isInInitialList {
				changed(obj)
			}
		},
		UpdateFunc: func(old, cur any) {
			if skiffquota.UpdateFilter(gvr, old, cur) {
				changed(cur)
			}
		},
		DeleteFunc: changed,
	}
}

// synced reports whether every watched resource's cache has synced; never
// before the first discovery, lest usage be computed from nothing.
func (m *monitor) synced() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.watched) == 0 {
		return false
	}
	for _, inf := range m.watched {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}
