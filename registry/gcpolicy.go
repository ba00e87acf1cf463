package registry

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// orphanByDefaultIn are the resources whose deletion orphans their
// dependents when the client names no policy, and the group versions in
// which they do: upstream keeps that default for the versions that had it
// before garbage collection cascaded (core/v1 replication controllers,
// batch/v1 jobs).
var orphanByDefaultIn = map[schema.GroupResource]schema.GroupVersion{
	{Resource: "replicationcontrollers"}: {Version: "v1"},
	{Group: "batch", Resource: "jobs"}:   {Group: "batch", Version: "v1"},
}

// gcUnsupported are the resources whose deletion never waits for or
// orphans dependents, whatever the client asks: nothing may own through
// an event.
var gcUnsupported = map[schema.GroupResource]bool{
	{Resource: "events"}:                         true,
	{Group: "events.k8s.io", Resource: "events"}: true,
}

// DefaultGarbageCollectionPolicy implements
// rest.GarbageCollectionDeleteStrategy: what the generic store does with
// dependents when a deletion names no propagation policy.
func (s *strategy) DefaultGarbageCollectionPolicy(ctx context.Context) rest.GarbageCollectionPolicy {
	gr := s.res.GroupResource()
	if gcUnsupported[gr] {
		return rest.Unsupported
	}
	if gv, ok := orphanByDefaultIn[gr]; ok {
		if info, found := genericapirequest.RequestInfoFrom(ctx); found && (schema.GroupVersion{Group: info.APIGroup, Version: info.APIVersion}) == gv {
			return rest.OrphanDependents
		}
	}
	return rest.DeleteDependents
}
