package namespace

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

func TestConditionMessages(t *testing.T) {
	widgets := schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
	pods := schema.GroupVersionResource{Version: "v1", Resource: "pods"}

	for _, tc := range []struct {
		name   string
		record func(u *conditionUpdater)
		want   map[corev1.NamespaceConditionType]corev1.NamespaceCondition
	}{
		{
			name:   "all clear",
			record: func(*conditionUpdater) {},
			want: map[corev1.NamespaceConditionType]corev1.NamespaceCondition{
				corev1.NamespaceDeletionDiscoveryFailure: {Status: corev1.ConditionFalse, Reason: "ResourcesDiscovered", Message: "All resources successfully discovered"},
				corev1.NamespaceDeletionGVParsingFailure: {Status: corev1.ConditionFalse, Reason: "ParsedGroupVersions", Message: "All legacy kube types successfully parsed"},
				corev1.NamespaceDeletionContentFailure:   {Status: corev1.ConditionFalse, Reason: "ContentDeleted", Message: "All content successfully deleted, may be waiting on finalization"},
				corev1.NamespaceContentRemaining:         {Status: corev1.ConditionFalse, Reason: "ContentRemoved", Message: "All content successfully removed"},
				corev1.NamespaceFinalizersRemaining:      {Status: corev1.ConditionFalse, Reason: "ContentHasNoFinalizers", Message: "All content-preserving finalizers finished"},
			},
		},
		{
			name: "failures",
			record: func(u *conditionUpdater) {
				u.discoveryFailed(&discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{{Group: "a", Version: "v1"}: errors.New("down")}})
				u.groupVersionFailed(errors.New("bad gv"))
				u.deleteFailed(errors.New("second"))
				u.deleteFailed(errors.New("first"))
				u.contentRemaining(remaining{
					byResource:  map[schema.GroupVersionResource]int{widgets: 2, pods: 1},
					byFinalizer: map[string]int{"x.io/b": 1, "x.io/a": 2, "x.io/none": 0},
				})
			},
			want: map[corev1.NamespaceConditionType]corev1.NamespaceCondition{
				corev1.NamespaceDeletionDiscoveryFailure: {Status: corev1.ConditionTrue, Reason: "DiscoveryFailed", Message: "Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: a/v1: down"},
				corev1.NamespaceDeletionGVParsingFailure: {Status: corev1.ConditionTrue, Reason: "GroupVersionParsingFailed", Message: "bad gv"},
				corev1.NamespaceDeletionContentFailure:   {Status: corev1.ConditionTrue, Reason: "ContentDeletionFailed", Message: "Failed to delete all resource types, 2 remaining: first, second"},
				corev1.NamespaceContentRemaining:         {Status: corev1.ConditionTrue, Reason: "SomeResourcesRemain", Message: "Some resources are remaining: pods. has 1 resource instances, widgets.example.com has 2 resource instances"},
				corev1.NamespaceFinalizersRemaining:      {Status: corev1.ConditionTrue, Reason: "SomeFinalizersRemain", Message: "Some content in the namespace has finalizers remaining: x.io/a in 2 resource instances, x.io/b in 1 resource instances"},
			},
		},
		{
			name:   "plain discovery error",
			record: func(u *conditionUpdater) { u.discoveryFailed(errors.New("no route")) },
			want: map[corev1.NamespaceConditionType]corev1.NamespaceCondition{
				corev1.NamespaceDeletionDiscoveryFailure: {Status: corev1.ConditionTrue, Reason: "DiscoveryFailed", Message: "no route"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var u conditionUpdater
			tc.record(&u)
			var status corev1.NamespaceStatus
			if !u.apply(&status) {
				t.Fatal("apply to empty status reported no change")
			}
			if len(status.Conditions) != len(conditionTypes) {
				t.Errorf("got %d conditions, want %d", len(status.Conditions), len(conditionTypes))
			}
			for i, c := range status.Conditions {
				if c.Type != conditionTypes[i] {
					t.Errorf("condition %d is %s, want %s", i, c.Type, conditionTypes[i])
				}
				w, ok := tc.want[c.Type]
				if !ok {
					continue
				}
				if c.Status != w.Status || c.Reason != w.Reason || c.Message != w.Message {
					t.Errorf("%s = %s/%s/%q, want %s/%s/%q", c.Type, c.Status, c.Reason, c.Message, w.Status, w.Reason, w.Message)
				}
			}
		})
	}
}

func TestConditionTransitions(t *testing.T) {
	long := metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	for _, tc := range []struct {
		name           string
		old            corev1.NamespaceCondition
		fail           bool
		wantChanged    bool
		wantTransition bool
	}{
		{"unchanged", corev1.NamespaceCondition{Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionFalse, Reason: "ContentRemoved", Message: "All content successfully removed", LastTransitionTime: long}, false, false, false},
		{"status flips", corev1.NamespaceCondition{Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionFalse, Reason: "ContentRemoved", Message: "All content successfully removed", LastTransitionTime: long}, true, true, true},
		{"message only", corev1.NamespaceCondition{Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionTrue, Reason: "SomeResourcesRemain", Message: "old", LastTransitionTime: long}, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status := corev1.NamespaceStatus{}
			var seed conditionUpdater
			seed.apply(&status)
			*findCondition(status.Conditions, tc.old.Type) = tc.old

			var u conditionUpdater
			if tc.fail {
				u.contentRemaining(remaining{byResource: map[schema.GroupVersionResource]int{{Version: "v1", Resource: "configmaps"}: 1}})
			}
			if got := u.apply(&status); got != tc.wantChanged {
				t.Errorf("apply reported change %v, want %v", got, tc.wantChanged)
			}
			c := findCondition(status.Conditions, tc.old.Type)
			if moved := !c.LastTransitionTime.Equal(&long); moved != tc.wantTransition {
				t.Errorf("lastTransitionTime moved: %v, want %v", moved, tc.wantTransition)
			}
		})
	}
}
