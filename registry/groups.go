package registry

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"

	"github.com/skiff-dev/skiff/apis"
)

// Extra adds storage that is not a plain Resource (subresources such as
// pods/binding, or resources with REST of their own) to a group version.
// It receives the stores built so far, keyed by resource name.
type Extra func(stores map[string]*Storage, add func(gv schema.GroupVersion, path string, storage rest.Storage)) error

// APIGroups builds the storage of every served built-in group. The first
// element is the legacy core group ("/api"); the rest are served under "/apis".
func APIGroups(optsGetter generic.RESTOptionsGetter, extras ...Extra) ([]*genericapiserver.APIGroupInfo, error) {
	infos := map[string]*genericapiserver.APIGroupInfo{}
	var order []string
	infoFor := func(group string) *genericapiserver.APIGroupInfo {
		if info, ok := infos[group]; ok {
			return info
		}
		info := genericapiserver.NewDefaultAPIGroupInfo(group, apis.Scheme, apis.ParameterCodec, apis.Codecs)
		infos[group] = &info
		order = append(order, group)
		return &info
	}
	add := func(gv schema.GroupVersion, path string, storage rest.Storage) {
		info := infoFor(gv.Group)
		if info.VersionedResourcesStorageMap[gv.Version] == nil {
			info.VersionedResourcesStorageMap[gv.Version] = map[string]rest.Storage{}
		}
		info.VersionedResourcesStorageMap[gv.Version][path] = storage
	}
	infoFor("") // the core group comes first

	stores := map[string]*Storage{}
	for _, r := range Resources() {
		store, subs, err := NewStore(r, optsGetter)
		if err != nil {
			return nil, err
		}
		stores[r.GroupResource().String()] = store
		for _, gv := range apis.ServedGroupVersions {
			if gv.Group != r.Group {
				continue
			}
			add(gv, r.Name, store)
			for name, sub := range subs {
				add(gv, r.Name+"/"+name, sub)
			}
		}
	}
	for _, name := range []string{"deployments.apps", "replicasets.apps", "statefulsets.apps", "replicationcontrollers"} {
		s, ok := stores[name]
		if !ok {
			return nil, fmt.Errorf("no storage for %s", name)
		}
		scale := NewScaleREST(s)
		for _, gv := range apis.ServedGroupVersions {
			if gv.Group == s.res.Group {
				add(gv, s.res.Name+"/scale", scale)
			}
		}
	}
	for _, extra := range extras {
		if err := extra(stores, add); err != nil {
			return nil, err
		}
	}

	out := make([]*genericapiserver.APIGroupInfo, 0, len(order))
	for _, group := range order {
		out = append(out, infos[group])
	}
	return out, nil
}
