package apis

import (
	"fmt"
	"reflect"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// hubKinds are internal kinds whose type is not the preferred version's.
var hubKinds = []struct {
	gvk schema.GroupVersionKind
	obj runtime.Object
}{
	// Every scale subresource, apps and core alike, serves autoscaling/v1
	// Scale; autoscaling's preferred version v2 has no Scale kind.
	{internalKind("autoscaling", "Scale"), &autoscalingv1.Scale{}},
	// events.k8s.io Events are stored as core Events, in the same place, so
	// one registry serves both groups. The conversions live in apis/events/v1.
	{internalKind(eventsv1.GroupName, "Event"), &corev1.Event{}},
	{internalKind(eventsv1.GroupName, "EventList"), &corev1.EventList{}},
}

func internalKind(group, kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: group, Version: runtime.APIVersionInternal, Kind: kind}
}

// addHubTypes registers the internal types that are not simply the preferred
// version's: the autoscaling/v1 Scale (served by every scale subresource) and
// core Events stored for events.k8s.io.
//
// It must run before registerInternal, which skips the kinds already
// registered here. Run after it, a hub kind already holds the preferred
// version's type and the scheme cannot replace it; the kind is then left as
// it is, and the group still works through the conversions, only with its
// own type as internal type.
func addHubTypes(s *runtime.Scheme) error {
	for _, hub := range hubKinds {
		want := reflect.TypeOf(hub.obj).Elem()
		if have, ok := s.KnownTypes(hub.gvk.GroupVersion())[hub.gvk.Kind]; ok {
			preferred := schema.GroupVersion{Group: hub.gvk.Group, Version: PreferredVersion(hub.gvk.Group)}
			if have != want && have != s.KnownTypes(preferred)[hub.gvk.Kind] {
				return fmt.Errorf("internal kind %v is already %v, want %v", hub.gvk, have, want)
			}
			continue
		}
		s.AddKnownTypeWithName(hub.gvk, hub.obj)
	}
	return nil
}
