// Package apis holds the one Scheme, codec factory and parameter codec that
// skiff serves every built-in API group with.
//
// skiff has no internal API types of its own: each group's internal version
// (runtime.APIVersionInternal) is the versioned k8s.io/api Go type, registered a
// second time under the internal version. Conversion between the two is then a
// copy that sets the kind. Groups with more than one served version (autoscaling
// v1/v2) or that share storage with another group (events.k8s.io with core
// events) register their hub type as internal and add conversion functions.
package apis

import (
	"fmt"
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

var (
	// Scheme knows every built-in kind, external and internal.
	Scheme = runtime.NewScheme()
	// Codecs encodes and decodes every built-in kind.
	Codecs = serializer.NewCodecFactory(Scheme)
	// ParameterCodec converts query parameters to option types.
	ParameterCodec = runtime.NewParameterCodec(Scheme)
)

// optionKinds are registered in every group version by metav1 and are not
// resources: they stay external only.
var optionKinds = map[string]bool{
	"ListOptions": true, "GetOptions": true, "DeleteOptions": true,
	"CreateOptions": true, "UpdateOptions": true, "PatchOptions": true,
	"WatchEvent": true, "InternalEvent": true, "Status": true, "APIVersions": true,
	"APIGroupList": true, "APIGroup": true, "APIResourceList": true,
}

func init() {
	if err := install(Scheme); err != nil {
		panic(fmt.Sprintf("skiff: building the API scheme: %v", err))
	}
}

func install(s *runtime.Scheme) error {
	if err := externalTypes.AddToScheme(s); err != nil {
		return err
	}
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	unversioned := schema.GroupVersion{Group: "", Version: "v1"}
	s.AddUnversionedTypes(unversioned,
		&metav1.Status{}, &metav1.APIVersions{}, &metav1.APIGroupList{},
		&metav1.APIGroup{}, &metav1.APIResourceList{})

	// Hub types first: registerInternal skips kinds that are already internal.
	if err := addHubTypes(s); err != nil {
		return err
	}
	for _, gv := range ServedGroupVersions {
		if gv.Version != PreferredVersion(gv.Group) {
			continue
		}
		registerInternal(s, gv)
	}
	for _, group := range servedGroups() {
		var versions []schema.GroupVersion
		for _, gv := range ServedGroupVersions {
			if gv.Group == group {
				versions = append(versions, gv)
			}
		}
		if err := s.SetVersionPriority(versions...); err != nil {
			return err
		}
	}
	return addDefaultsAndConversions(s)
}

// registerInternal registers every resource kind of gv a second time under the
// internal version of its group, with the same Go type.
func registerInternal(s *runtime.Scheme, gv schema.GroupVersion) {
	internal := schema.GroupVersion{Group: gv.Group, Version: runtime.APIVersionInternal}
	for kind, t := range s.KnownTypes(gv) {
		if optionKinds[kind] {
			continue
		}
		if _, done := s.KnownTypes(internal)[kind]; done {
			continue
		}
		obj := reflect.New(t).Interface().(runtime.Object)
		s.AddKnownTypeWithName(internal.WithKind(kind), obj)
	}
}
