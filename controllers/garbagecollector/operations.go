package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
)

func resourceDefaultNamespace(namespaced bool, namespace string) string {
	if namespaced {
		return namespace
	}
	return ""
}

// apiResource maps an owner reference's apiVersion and kind to the
// resource to call and whether it is namespaced.
func (gc *Controller) apiResource(apiVersion, kind string) (schema.GroupVersionResource, bool, error) {
	gvk := schema.FromAPIVersionAndKind(apiVersion, kind)
	mapping, err := gc.restMapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return schema.GroupVersionResource{}, false, &restMappingError{kind: kind, version: apiVersion}
	}
	return mapping.Resource, mapping.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

// deleteObject deletes item as it was at resourceVersion, so that an
// object that gained an owner meanwhile survives. A conflict caused only
// by changes that left the owners alone deletes unconditionally on the UID.
func (gc *Controller) deleteObject(ctx context.Context, item objectReference, resourceVersion string, owners []metav1.OwnerReference, policy *metav1.DeletionPropagation) error {
	gvr, namespaced, err := gc.apiResource(item.APIVersion, item.Kind)
	if err != nil {
		return err
	}
	uid := item.UID
	pre := metav1.Preconditions{UID: &uid}
	if resourceVersion != "" {
		pre.ResourceVersion = &resourceVersion
	}
	client := gc.metadataClient.Resource(gvr).Namespace(resourceDefaultNamespace(namespaced, item.Namespace))
	err = client.Delete(ctx, item.Name, metav1.DeleteOptions{Preconditions: &pre, PropagationPolicy: policy})
	if apierrors.IsConflict(err) && resourceVersion != "" {
		live, liveErr := client.Get(ctx, item.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(liveErr) {
			return liveErr
		}
		if liveErr == nil && live.UID == item.UID && live.ResourceVersion != resourceVersion && reflect.DeepEqual(live.OwnerReferences, owners) {
			return gc.deleteObject(ctx, item, "", nil, policy)
		}
	}
	return err
}

func (gc *Controller) getObject(ctx context.Context, item objectReference) (*metav1.PartialObjectMetadata, error) {
	gvr, namespaced, err := gc.apiResource(item.APIVersion, item.Kind)
	if err != nil {
		return nil, err
	}
	ns := resourceDefaultNamespace(namespaced, item.Namespace)
	if namespaced && ns == "" {
		return nil, errNamespacedOwnerOfClusterScopedObject
	}
	return gc.metadataClient.Resource(gvr).Namespace(ns).Get(ctx, item.Name, metav1.GetOptions{})
}

func (gc *Controller) patchObject(ctx context.Context, item objectReference, patch []byte, pt types.PatchType) (*metav1.PartialObjectMetadata, error) {
	gvr, namespaced, err := gc.apiResource(item.APIVersion, item.Kind)
	if err != nil {
		return nil, err
	}
	return gc.metadataClient.Resource(gvr).Namespace(resourceDefaultNamespace(namespaced, item.Namespace)).Patch(ctx, item.Name, pt, patch, metav1.PatchOptions{})
}

// removeFinalizer removes finalizer from owner with a merge patch that
// carries the resourceVersion it read, retrying conflicts.
func (gc *Controller) removeFinalizer(ctx context.Context, owner *node, finalizer string) error {
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		obj, err := gc.getObject(ctx, owner.identity)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("cannot finalize owner %s, because cannot get it: %w. The garbage collector will retry later", owner.identity, err)
		}
		if !slices.Contains(obj.Finalizers, finalizer) {
			klog.FromContext(ctx).V(5).Info("finalizer already removed from object", "finalizer", finalizer, "object", owner.identity)
			return nil
		}
		var keep []string
		for _, f := range obj.Finalizers {
			if f != finalizer {
				keep = append(keep, f)
			}
		}
		patch, err := json.Marshal(finalizersPatch{Metadata: finalizersPatchMeta{ResourceVersion: obj.ResourceVersion, Finalizers: keep}})
		if err != nil {
			return fmt.Errorf("unable to finalize %s due to an error serializing patch: %w", owner.identity, err)
		}
		_, err = gc.patchObject(ctx, owner.identity, patch, types.MergePatchType)
		return err
	})
	if apierrors.IsConflict(err) {
		return fmt.Errorf("updateMaxRetries(%d) has reached. The garbage collector will retry later for owner %v", retry.DefaultBackoff.Steps, owner.identity)
	}
	return err
}

type finalizersPatch struct {
	Metadata finalizersPatchMeta `json:"metadata"`
}

type finalizersPatchMeta struct {
	ResourceVersion string `json:"resourceVersion"`
	// Finalizers is sent even when empty: null clears the list.
	Finalizers []string `json:"finalizers"`
}

type ownerRefsPatch struct {
	Metadata ownerRefsPatchMeta `json:"metadata"`
}

type ownerRefsPatchMeta struct {
	ResourceVersion string                  `json:"resourceVersion"`
	OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
}

// patch applies a strategic merge patch, or, for resources that do not
// support one (custom resources), the JSON merge patch jmp builds.
func (gc *Controller) patch(ctx context.Context, item *node, smp []byte, jmp func(*node) ([]byte, error)) (*metav1.PartialObjectMetadata, error) {
	out, err := gc.patchObject(ctx, item.identity, smp, types.StrategicMergePatchType)
	if err == nil || !apierrors.IsUnsupportedMediaType(err) {
		return out, err
	}
	p, err := jmp(item)
	if err != nil {
		return nil, err
	}
	return gc.patchObject(ctx, item.identity, p, types.MergePatchType)
}

// deleteOwnerRefStrategicMergePatch deletes the references to ownerUIDs;
// the dependent's UID makes the patch fail on a recreated object.
func deleteOwnerRefStrategicMergePatch(dependentUID types.UID, ownerUIDs ...types.UID) []byte {
	refs := make([]map[string]string, 0, len(ownerUIDs))
	for _, uid := range ownerUIDs {
		refs = append(refs, map[string]string{"$patch": "delete", "uid": string(uid)})
	}
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"uid": dependentUID, "ownerReferences": refs}})
	return b
}

// metadataOf reads an object's metadata from its monitor, or from the API
// server when no monitor has it.
func (gc *Controller) metadataOf(ctx context.Context, ref objectReference) (*metav1.PartialObjectMetadata, error) {
	gvr, namespaced, err := gc.apiResource(ref.APIVersion, ref.Kind)
	if err != nil {
		return nil, err
	}
	ns := resourceDefaultNamespace(namespaced, ref.Namespace)
	if m, ok := gc.graph.cached(gvr, ns, ref.Name); ok {
		return m, nil
	}
	return gc.metadataClient.Resource(gvr).Namespace(ns).Get(ctx, ref.Name, metav1.GetOptions{})
}

// deleteOwnerRefJSONMergePatch writes the whole reference list less
// ownerUIDs, guarded by the resourceVersion it was computed from.
func (gc *Controller) deleteOwnerRefJSONMergePatch(ctx context.Context, item *node, ownerUIDs ...types.UID) ([]byte, error) {
	m, err := gc.metadataOf(ctx, item.identity)
	if err != nil {
		return nil, err
	}
	p := ownerRefsPatchMeta{ResourceVersion: m.ResourceVersion}
	for _, ref := range m.OwnerReferences {
		if !slices.Contains(ownerUIDs, ref.UID) {
			p.OwnerReferences = append(p.OwnerReferences, ref)
		}
	}
	return json.Marshal(ownerRefsPatch{Metadata: p})
}

// unblockOwnerReferencesStrategicMergePatch sets blockOwnerDeletion to
// false on the references of n that block.
func unblockOwnerReferencesStrategicMergePatch(n *node) ([]byte, error) {
	var refs []metav1.OwnerReference
	for _, ref := range n.getOwners() {
		if ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion {
			ref.BlockOwnerDeletion = new(false)
			refs = append(refs, ref)
		}
	}
	meta := map[string]any{"uid": n.identity.UID}
	// With nothing left to unblock the patch must not name the list: a
	// null ownerReferences would remove every reference.
	if len(refs) > 0 {
		meta["ownerReferences"] = refs
	}
	return json.Marshal(map[string]any{"metadata": meta})
}

func (gc *Controller) unblockOwnerReferencesJSONMergePatch(ctx context.Context, n *node) ([]byte, error) {
	m, err := gc.metadataOf(ctx, n.identity)
	if err != nil {
		return nil, err
	}
	p := ownerRefsPatchMeta{ResourceVersion: m.ResourceVersion}
	for _, ref := range n.getOwners() {
		ref.BlockOwnerDeletion = new(false)
		p.OwnerReferences = append(p.OwnerReferences, ref)
	}
	return json.Marshal(ownerRefsPatch{Metadata: p})
}
