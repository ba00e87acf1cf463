package garbagecollector

import (
	"encoding/json"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestUnblockPatch: the patch that makes an item stop blocking its owners
// sets blockOwnerDeletion=false on the blocking references only, and
// names no list at all once none blocks (a null list would drop every
// reference: conformance's "should not be blocked by dependency circle").
func TestUnblockPatch(t *testing.T) {
	block, noBlock := true, false
	tests := []struct {
		name   string
		owners []metav1.OwnerReference
		want   string
	}{
		{"one blocking", []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "a", UID: "ua", BlockOwnerDeletion: &block},
			{APIVersion: "v1", Kind: "Pod", Name: "b", UID: "ub", BlockOwnerDeletion: &noBlock}},
			`{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"Pod","name":"a","uid":"ua","blockOwnerDeletion":false}],"uid":"item"}}`},
		{"none blocking", []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "b", UID: "ub", BlockOwnerDeletion: &noBlock}},
			`{"metadata":{"uid":"item"}}`},
		{"no owners", nil, `{"metadata":{"uid":"item"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(objectReference{OwnerReference: metav1.OwnerReference{UID: types.UID("item")}})
			n.owners = tt.owners
			got, err := unblockOwnerReferencesStrategicMergePatch(n)
			if err != nil {
				t.Fatal(err)
			}
			if mustCanon(t, string(got)) != mustCanon(t, tt.want) {
				t.Errorf("patch %s, want %s", got, tt.want)
			}
		})
	}
}

func mustCanon(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
