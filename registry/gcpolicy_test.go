package registry

import (
	"context"
	"testing"

	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

func TestDefaultGarbageCollectionPolicy(t *testing.T) {
	request := func(group, version string) context.Context {
		return genericapirequest.WithRequestInfo(context.Background(), &genericapirequest.RequestInfo{APIGroup: group, APIVersion: version})
	}
	tests := []struct {
		name            string
		group, resource string
		ctx             context.Context
		want            rest.GarbageCollectionPolicy
	}{
		{"replication controllers in v1 orphan", "", "replicationcontrollers", request("", "v1"), rest.OrphanDependents},
		{"replication controllers outside a request cascade", "", "replicationcontrollers", context.Background(), rest.DeleteDependents},
		{"jobs in batch/v1 orphan", "batch", "jobs", request("batch", "v1"), rest.OrphanDependents},
		{"cronjobs cascade", "batch", "cronjobs", request("batch", "v1"), rest.DeleteDependents},
		{"deployments cascade", "apps", "deployments", request("apps", "v1"), rest.DeleteDependents},
		{"replica sets cascade", "apps", "replicasets", request("apps", "v1"), rest.DeleteDependents},
		{"configmaps cascade", "", "configmaps", request("", "v1"), rest.DeleteDependents},
		{"core events are unsupported", "", "events", request("", "v1"), rest.Unsupported},
		{"events.k8s.io events are unsupported", "events.k8s.io", "events", request("events.k8s.io", "v1"), rest.Unsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStrategy(resource(t, tc.group, tc.resource), nil)
			if got := s.DefaultGarbageCollectionPolicy(tc.ctx); got != tc.want {
				t.Errorf("DefaultGarbageCollectionPolicy = %q, want %q", got, tc.want)
			}
		})
	}
}
