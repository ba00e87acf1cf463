package namespace

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
)

func terminating(finalizers ...corev1.FinalizerName) *corev1.Namespace {
	deleted := metav1.NewTime(time.Now())
	return &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "ns", UID: "uid-1", DeletionTimestamp: &deleted},
		Spec:       corev1.NamespaceSpec{Finalizers: finalizers},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}
}

func configMapMeta(name string, finalizers ...string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Finalizers: finalizers},
	}
}

func configMapsResource(verbs ...string) []*metav1.APIResourceList {
	return []*metav1.APIResourceList{{
		GroupVersion: "v1",
		APIResources: []metav1.APIResource{{Name: "configmaps", Namespaced: true, Kind: "ConfigMap", Verbs: verbs}},
	}}
}

func TestDelete(t *testing.T) {
	cmGVR := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	groupFailure := &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{{Group: "example.com", Version: "v1"}: errors.New("boom")}}
	keepAll := func(clienttesting.Action) (bool, runtime.Object, error) { return true, nil, nil }

	for _, tc := range []struct {
		name      string
		ns        *corev1.Namespace
		objects   []runtime.Object
		resources []*metav1.APIResourceList
		discErr   error
		// keepDeleted makes deletes of configmaps succeed without effect.
		keepDeleted bool

		wantErr        string
		wantRemaining  int64 // estimate of a ResourcesRemainingError
		wantConditions map[corev1.NamespaceConditionType]string
		wantFinalized  []corev1.FinalizerName // nil: /finalize not called
	}{
		{
			name: "not deleted is left alone",
			ns: func() *corev1.Namespace {
				ns := terminating(corev1.FinalizerKubernetes)
				ns.DeletionTimestamp = nil
				return ns
			}(),
			objects:       []runtime.Object{configMapMeta("a")},
			resources:     configMapsResource("delete", "list"),
			wantFinalized: nil,
		},
		{
			name:          "empties the namespace and releases only its own finalizer",
			ns:            terminating("example.com/b", corev1.FinalizerKubernetes, "example.com/a"),
			objects:       []runtime.Object{configMapMeta("a"), configMapMeta("b")},
			resources:     configMapsResource("delete", "list"),
			wantFinalized: []corev1.FinalizerName{"example.com/a", "example.com/b"},
			wantConditions: map[corev1.NamespaceConditionType]string{
				corev1.NamespaceDeletionDiscoveryFailure: "ResourcesDiscovered",
				corev1.NamespaceContentRemaining:         "ContentRemoved",
				corev1.NamespaceFinalizersRemaining:      "ContentHasNoFinalizers",
			},
		},
		{
			name:          "already finalized",
			ns:            terminating(),
			resources:     configMapsResource("delete", "list"),
			wantFinalized: nil,
		},
		{
			name:          "partial discovery still deletes what it found",
			ns:            terminating(corev1.FinalizerKubernetes),
			objects:       []runtime.Object{configMapMeta("a")},
			resources:     configMapsResource("delete", "list"),
			discErr:       groupFailure,
			wantErr:       "unable to retrieve the complete list of server APIs: example.com/v1: boom",
			wantFinalized: nil,
			wantConditions: map[corev1.NamespaceConditionType]string{
				corev1.NamespaceDeletionDiscoveryFailure: "DiscoveryFailed",
				corev1.NamespaceContentRemaining:         "ContentRemoved",
			},
		},
		{
			name:          "content held by finalizers",
			ns:            terminating(corev1.FinalizerKubernetes),
			objects:       []runtime.Object{configMapMeta("a", "example.com/hold")},
			resources:     configMapsResource("delete", "list"),
			keepDeleted:   true,
			wantRemaining: finalizerWaitSeconds,
			wantConditions: map[corev1.NamespaceConditionType]string{
				corev1.NamespaceDeletionContentFailure: "ContentDeleted",
				corev1.NamespaceContentRemaining:       "SomeResourcesRemain",
				corev1.NamespaceFinalizersRemaining:    "SomeFinalizersRemain",
			},
		},
		{
			name:        "content surviving deletion without finalizers",
			ns:          terminating(corev1.FinalizerKubernetes),
			objects:     []runtime.Object{configMapMeta("a")},
			resources:   configMapsResource("delete", "list"),
			keepDeleted: true,
			wantErr:     "unexpected items still remain in namespace: ns for gvr: /v1, Resource=configmaps",
			wantConditions: map[corev1.NamespaceConditionType]string{
				corev1.NamespaceDeletionContentFailure: "ContentDeletionFailed",
				corev1.NamespaceContentRemaining:       "SomeResourcesRemain",
			},
		},
		{
			name:          "resources without delete are skipped",
			ns:            terminating(corev1.FinalizerKubernetes),
			objects:       []runtime.Object{configMapMeta("a")},
			resources:     configMapsResource("list"),
			wantFinalized: []corev1.FinalizerName{},
			wantConditions: map[corev1.NamespaceConditionType]string{
				corev1.NamespaceContentRemaining: "ContentRemoved",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			client := fake.NewClientset(tc.ns)
			var finalized []corev1.FinalizerName
			client.PrependReactor("create", "namespaces", func(action clienttesting.Action) (bool, runtime.Object, error) {
				if action.GetSubresource() != "finalize" {
					return false, nil, nil
				}
				ns := action.(clienttesting.CreateAction).GetObject().(*corev1.Namespace)
				finalized = append([]corev1.FinalizerName{}, ns.Spec.Finalizers...)
				return true, ns, nil
			})
			scheme := runtime.NewScheme()
			metav1.AddMetaToScheme(scheme)
			md := metadatafake.NewSimpleMetadataClient(scheme, tc.objects...)
			if tc.keepDeleted {
				md.PrependReactor("delete", "configmaps", keepAll)
				md.PrependReactor("delete-collection", "configmaps", keepAll)
			}
			d := &deleter{
				namespaces: client.CoreV1().Namespaces(),
				pods:       client.CoreV1(),
				metadata:   md,
				discover:   func() ([]*metav1.APIResourceList, error) { return tc.resources, tc.discErr },
			}

			err := d.delete(ctx, tc.ns.Name)

			var remaining *ResourcesRemainingError
			switch {
			case tc.wantRemaining != 0:
				if !errors.As(err, &remaining) || remaining.Estimate != tc.wantRemaining {
					t.Errorf("error = %v, want ResourcesRemainingError{%d}", err, tc.wantRemaining)
				}
			case tc.wantErr != "":
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("error = %v, want %q", err, tc.wantErr)
				}
			case err != nil:
				t.Errorf("unexpected error: %v", err)
			}
			if (finalized == nil) != (tc.wantFinalized == nil) || !slices.Equal(finalized, tc.wantFinalized) {
				t.Errorf("finalized to %v, want %v (nil: not finalized)", finalized, tc.wantFinalized)
			}

			stored, err := client.CoreV1().Namespaces().Get(ctx, tc.ns.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.ns.DeletionTimestamp != nil && stored.Status.Phase != corev1.NamespaceTerminating {
				t.Errorf("phase = %q, want Terminating", stored.Status.Phase)
			}
			for typ, reason := range tc.wantConditions {
				c := findCondition(stored.Status.Conditions, typ)
				if c == nil || c.Reason != reason {
					t.Errorf("condition %s = %+v, want reason %s", typ, c, reason)
				}
			}
			if tc.wantConditions == nil && len(stored.Status.Conditions) > 0 {
				t.Errorf("conditions = %+v, want none", stored.Status.Conditions)
			}
			if !tc.keepDeleted && tc.ns.DeletionTimestamp != nil && slices.Contains(tc.resources[0].APIResources[0].Verbs, "delete") {
				left, err := md.Resource(cmGVR).Namespace("ns").List(ctx, metav1.ListOptions{})
				if err != nil || len(left.Items) != 0 {
					t.Errorf("configmaps left: %v, %v", left, err)
				}
			}
		})
	}
}
