package namespace_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
)

func createNamespace(t *testing.T, name string) *corev1.Namespace {
	t.Helper()
	if out, err := kubectl("create", "namespace", name); err != nil {
		t.Fatalf("kubectl create namespace %s: %v\n%s", name, err, out)
	}
	ns, err := cluster.client.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting namespace %s: %v", name, err)
	}
	return ns
}

// waitGone waits with kubectl, as a user would, for the namespace to leave.
func waitGone(t *testing.T, name string) {
	t.Helper()
	if out, err := kubectl("wait", "--for=delete", "namespace/"+name, "--timeout=60s"); err != nil {
		t.Fatalf("kubectl wait --for=delete namespace/%s: %v\n%s", name, err, out)
	}
	_, err := cluster.client.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("namespace %s after kubectl wait: got error %v, want NotFound", name, err)
	}
}

// widgetCRD installs a namespaced custom resource named widgets in group and
// returns its resource.
func widgetCRD(t *testing.T, group string) schema.GroupVersionResource {
	t.Helper()
	ctx := context.Background()
	client, err := apiextensionsclient.NewForConfig(cluster.config)
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true),
				}},
			}},
		},
	}
	if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating CRD: %v", err)
	}
	t.Cleanup(func() {
		_ = client.ApiextensionsV1().CustomResourceDefinitions().Delete(context.Background(), crd.Name, metav1.DeleteOptions{})
	})
	gvr := schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"}
	// The namespace controller only sees what discovery serves.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := cluster.client.Discovery().ServerResourcesForGroupVersion(group + "/v1")
		return err == nil && len(list.APIResources) > 0, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s in discovery: %v", gvr, err)
	}
	return gvr
}

func createWidget(t *testing.T, gvr schema.GroupVersionResource, namespace, name string, finalizers ...string) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cluster.config)
	if err != nil {
		t.Fatal(err)
	}
	w := &unstructured.Unstructured{}
	w.SetAPIVersion(gvr.GroupVersion().String())
	w.SetKind("Widget")
	w.SetName(name)
	w.SetFinalizers(finalizers)
	if _, err := dyn.Resource(gvr).Namespace(namespace).Create(context.Background(), w, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating widget %s/%s: %v", namespace, name, err)
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	nsClient := cluster.client.CoreV1().Namespaces()

	created := createNamespace(t, "ns-create")
	generated, err := nsClient.Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "ns-gen-"},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"example.com/keep"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace with generateName: %v", err)
	}

	for _, tc := range []struct {
		name           string
		ns             *corev1.Namespace
		wantFinalizers []corev1.FinalizerName
	}{
		{"kubectl create", created, []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		{"generateName with own finalizer", generated, []corev1.FinalizerName{"example.com/keep", corev1.FinalizerKubernetes}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ns.Status.Phase != corev1.NamespaceActive {
				t.Errorf("status.phase = %q, want Active", tc.ns.Status.Phase)
			}
			if !slices.Equal(tc.ns.Spec.Finalizers, tc.wantFinalizers) {
				t.Errorf("spec.finalizers = %v, want %v", tc.ns.Spec.Finalizers, tc.wantFinalizers)
			}
			if got := tc.ns.Labels[corev1.LabelMetadataName]; got != tc.ns.Name {
				t.Errorf("label %s = %q, want %q", corev1.LabelMetadataName, got, tc.ns.Name)
			}
		})
	}

	t.Run("update keeps finalizers, status and name label", func(t *testing.T) {
		ns := created.DeepCopy()
		ns.Labels[corev1.LabelMetadataName] = "other"
		ns.Labels["team"] = "a"
		ns.Spec.Finalizers = nil
		ns.Status.Phase = corev1.NamespaceTerminating
		got, err := nsClient.Update(ctx, ns, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("updating namespace: %v", err)
		}
		if got.Labels[corev1.LabelMetadataName] != ns.Name || got.Labels["team"] != "a" {
			t.Errorf("labels = %v, want the name label restored and team=a kept", got.Labels)
		}
		if !slices.Equal(got.Spec.Finalizers, []corev1.FinalizerName{corev1.FinalizerKubernetes}) || got.Status.Phase != corev1.NamespaceActive {
			t.Errorf("spec.finalizers = %v, status.phase = %q; want [kubernetes], Active", got.Spec.Finalizers, got.Status.Phase)
		}
	})

	t.Run("status may not claim Terminating while not deleted", func(t *testing.T) {
		ns, err := nsClient.Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ns.Status.Phase = corev1.NamespaceTerminating
		_, err = nsClient.UpdateStatus(ctx, ns, metav1.UpdateOptions{})
		want := "may only be 'Active' if `deletionTimestamp` is empty"
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("UpdateStatus to Terminating: got %v, want Invalid error containing %q", err, want)
		}
	})

	for _, ns := range []string{created.Name, generated.Name} {
		if out, err := kubectl("delete", "namespace", ns, "--wait=false"); err != nil {
			t.Errorf("kubectl delete namespace %s: %v\n%s", ns, err, out)
		}
	}
	// The generated namespace keeps its own finalizer until someone drops it.
	finalizeTo(t, generated.Name, nil)
}

// finalizeTo waits for the namespace controller to release the namespace,
// then sets its spec.finalizers through /finalize.
func finalizeTo(t *testing.T, name string, finalizers []corev1.FinalizerName) {
	t.Helper()
	ctx := context.Background()
	var ns *corev1.Namespace
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		ns, err = cluster.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		return err == nil && !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes), err
	})
	if err != nil {
		t.Fatalf("waiting for the controller to drop the kubernetes finalizer of %s: %v", name, err)
	}
	ns.Spec.Finalizers = finalizers
	if _, err := cluster.client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("finalizing %s: %v", name, err)
	}
}

func TestDeleteRemovesContent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const name = "ns-content"
	createNamespace(t, name)
	widgets := widgetCRD(t, "content.nstest.skiff.dev")

	core := cluster.client.CoreV1()
	labels := map[string]string{"app": "web"}
	creates := []struct {
		what   string
		create func() error
	}{
		{"configmap", func() error {
			_, err := core.ConfigMaps(name).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"a": "b"}}, metav1.CreateOptions{})
			return err
		}},
		{"secret", func() error {
			_, err := core.Secrets(name).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "secret"}, StringData: map[string]string{"a": "b"}}, metav1.CreateOptions{})
			return err
		}},
		{"service", func() error {
			_, err := core.Services(name).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{
				Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
			}}, metav1.CreateOptions{})
			return err
		}},
		{"deployment", func() error {
			_, err := cluster.client.AppsV1().Deployments(name).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "web", Image: "nginx"}},
				}},
			}}, metav1.CreateOptions{})
			return err
		}},
		{"unscheduled pod", func() error {
			_, err := core.Pods(name).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pod"}, Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "c", Image: "nginx"}},
			}}, metav1.CreateOptions{})
			return err
		}},
	}
	for _, c := range creates {
		if err := c.create(); err != nil {
			t.Fatalf("creating %s: %v", c.what, err)
		}
	}
	createWidget(t, widgets, name, "w")

	if out, err := kubectl("delete", "namespace", name, "--wait=false"); err != nil {
		t.Fatalf("kubectl delete namespace: %v\n%s", err, out)
	}
	ns, err := core.Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting the deleted namespace: %v", err)
	}
	if ns.DeletionTimestamp == nil || ns.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("right after delete: deletionTimestamp = %v, phase = %q; want set, Terminating", ns.DeletionTimestamp, ns.Status.Phase)
	}

	t.Run("new content is refused", func(t *testing.T) {
		out, err := kubectl("-n", name, "create", "configmap", "late")
		want := fmt.Sprintf(`configmaps "late" is forbidden: unable to create new content in namespace %s because it is being terminated`, name)
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("kubectl create configmap in a terminating namespace: err %v, output %q; want it to contain %q", err, out, want)
		}
	})

	waitGone(t, name)

	lists := []struct {
		what string
		list func() (int, error)
	}{
		{"configmaps", func() (int, error) {
			l, err := core.ConfigMaps(name).List(ctx, metav1.ListOptions{})
			return len(l.Items), err
		}},
		{"secrets", func() (int, error) {
			l, err := core.Secrets(name).List(ctx, metav1.ListOptions{})
			return len(l.Items), err
		}},
		{"services", func() (int, error) {
			l, err := core.Services(name).List(ctx, metav1.ListOptions{})
			return len(l.Items), err
		}},
		{"pods", func() (int, error) {
			l, err := core.Pods(name).List(ctx, metav1.ListOptions{})
			return len(l.Items), err
		}},
		{"deployments", func() (int, error) {
			l, err := cluster.client.AppsV1().Deployments(name).List(ctx, metav1.ListOptions{})
			return len(l.Items), err
		}},
		{"widgets", func() (int, error) {
			dyn, err := dynamic.NewForConfig(cluster.config)
			if err != nil {
				return 0, err
			}
			l, err := dyn.Resource(widgets).Namespace(name).List(ctx, metav1.ListOptions{})
			if err != nil {
				return 0, err
			}
			return len(l.Items), nil
		}},
	}
	for _, l := range lists {
		t.Run(l.what+" are gone", func(t *testing.T) {
			n, err := l.list()
			if err != nil {
				t.Fatalf("listing %s: %v", l.what, err)
			}
			if n != 0 {
				t.Errorf("%d %s remain in the deleted namespace", n, l.what)
			}
		})
	}
}

func TestFinalizersHoldNamespace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const name = "ns-held"
	createNamespace(t, name)
	widgets := widgetCRD(t, "held.nstest.skiff.dev")
	createWidget(t, widgets, name, "w", "example.com/hold")

	if out, err := kubectl("delete", "namespace", name, "--wait=false"); err != nil {
		t.Fatalf("kubectl delete namespace: %v\n%s", err, out)
	}

	want := map[corev1.NamespaceConditionType]corev1.NamespaceCondition{
		corev1.NamespaceDeletionDiscoveryFailure: {Status: corev1.ConditionFalse, Reason: "ResourcesDiscovered", Message: "All resources successfully discovered"},
		corev1.NamespaceDeletionGVParsingFailure: {Status: corev1.ConditionFalse, Reason: "ParsedGroupVersions", Message: "All legacy kube types successfully parsed"},
		corev1.NamespaceDeletionContentFailure:   {Status: corev1.ConditionFalse, Reason: "ContentDeleted", Message: "All content successfully deleted, may be waiting on finalization"},
		corev1.NamespaceContentRemaining:         {Status: corev1.ConditionTrue, Reason: "SomeResourcesRemain", Message: "Some resources are remaining: widgets.held.nstest.skiff.dev has 1 resource instances"},
		corev1.NamespaceFinalizersRemaining:      {Status: corev1.ConditionTrue, Reason: "SomeFinalizersRemain", Message: "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"},
	}
	var ns *corev1.Namespace
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		ns, err = cluster.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		return err == nil && len(ns.Status.Conditions) == len(want), err
	})
	if err != nil {
		t.Fatalf("waiting for the namespace conditions: %v", err)
	}
	for _, c := range ns.Status.Conditions {
		t.Run(string(c.Type), func(t *testing.T) {
			w, ok := want[c.Type]
			if !ok {
				t.Fatalf("unexpected condition %+v", c)
			}
			if c.Status != w.Status || c.Reason != w.Reason || c.Message != w.Message {
				t.Errorf("got %s/%s/%q, want %s/%s/%q", c.Status, c.Reason, c.Message, w.Status, w.Reason, w.Message)
			}
		})
	}
	if !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		t.Errorf("spec.finalizers = %v: the namespace was released while content remained", ns.Spec.Finalizers)
	}

	dyn, err := dynamic.NewForConfig(cluster.config)
	if err != nil {
		t.Fatal(err)
	}
	patch := []byte(`{"metadata":{"finalizers":null}}`)
	if _, err := dyn.Resource(widgets).Namespace(name).Patch(ctx, "w", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("releasing the widget: %v", err)
	}
	waitGone(t, name)
}

func TestDeleteSystemNamespaces(t *testing.T) {
	t.Parallel()
	for _, name := range []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic} {
		t.Run(name, func(t *testing.T) {
			out, err := kubectl("delete", "namespace", name)
			want := fmt.Sprintf(`namespaces "%s" is forbidden: this namespace may not be deleted`, name)
			if err == nil || !strings.Contains(out, want) {
				t.Errorf("kubectl delete namespace %s: err %v, output %q; want it to contain %q", name, err, out, want)
			}
			ns, err := cluster.client.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
			if err != nil || ns.DeletionTimestamp != nil {
				t.Errorf("after the refused delete: %v, deletionTimestamp %v", err, ns.GetDeletionTimestamp())
			}
		})
	}
}

func TestDeleteOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	nsClient := cluster.client.CoreV1().Namespaces()
	const name = "ns-options"
	ns := createNamespace(t, name)

	t.Run("uid precondition", func(t *testing.T) {
		err := nsClient.Delete(ctx, name, metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions("not-the-uid")})
		want := fmt.Sprintf(`Operation cannot be fulfilled on namespaces "%s": Precondition failed: UID in precondition: not-the-uid, UID in object meta: %s`, name, ns.UID)
		if !apierrors.IsConflict(err) || err.Error() != want {
			t.Errorf("got %v, want Conflict %q", err, want)
		}
	})
	t.Run("resourceVersion precondition", func(t *testing.T) {
		err := nsClient.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: ptr.To("1")}})
		want := fmt.Sprintf(`Operation cannot be fulfilled on namespaces "%s": Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: %s`, name, ns.ResourceVersion)
		if !apierrors.IsConflict(err) || err.Error() != want {
			t.Errorf("got %v, want Conflict %q", err, want)
		}
	})

	// Dry runs show what each propagation policy would record without
	// starting the termination.
	for _, tc := range []struct {
		policy         metav1.DeletionPropagation
		wantFinalizers []string
	}{
		{metav1.DeletePropagationForeground, []string{metav1.FinalizerDeleteDependents}},
		{metav1.DeletePropagationOrphan, []string{metav1.FinalizerOrphanDependents}},
		{metav1.DeletePropagationBackground, nil},
	} {
		t.Run("dry run "+string(tc.policy), func(t *testing.T) {
			var got corev1.Namespace
			err := cluster.client.CoreV1().RESTClient().Delete().Resource("namespaces").Name(name).
				Body(&metav1.DeleteOptions{PropagationPolicy: &tc.policy, DryRun: []string{metav1.DryRunAll}}).
				Do(ctx).Into(&got)
			if err != nil {
				t.Fatalf("dry-run delete: %v", err)
			}
			if got.DeletionTimestamp == nil || got.Status.Phase != corev1.NamespaceTerminating || !slices.Equal(got.Finalizers, tc.wantFinalizers) {
				t.Errorf("returned deletionTimestamp %v, phase %q, finalizers %v; want set, Terminating, %v",
					got.DeletionTimestamp, got.Status.Phase, got.Finalizers, tc.wantFinalizers)
			}
			stored, err := nsClient.Get(ctx, name, metav1.GetOptions{})
			if err != nil || stored.DeletionTimestamp != nil || stored.Status.Phase != corev1.NamespaceActive {
				t.Errorf("stored after dry run: %v, deletionTimestamp %v, phase %q; want untouched", err, stored.GetDeletionTimestamp(), stored.Status.Phase)
			}
		})
	}

	if err := nsClient.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	t.Run("second delete returns the terminating namespace", func(t *testing.T) {
		var got corev1.Namespace
		if err := cluster.client.CoreV1().RESTClient().Delete().Resource("namespaces").Name(name).Do(ctx).Into(&got); err != nil {
			t.Fatalf("second delete: %v", err)
		}
		if got.Name != name || got.Status.Phase != corev1.NamespaceTerminating {
			t.Errorf("second delete returned %s in phase %q, want %s Terminating", got.Name, got.Status.Phase, name)
		}
	})
	waitGone(t, name)
}

func TestFinalize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	nsClient := cluster.client.CoreV1().Namespaces()
	const name = "ns-finalize"
	ns := createNamespace(t, name)

	for _, tc := range []struct {
		name       string
		finalizers []corev1.FinalizerName
		wantErr    string
	}{
		{"unqualified name", []corev1.FinalizerName{"bad"}, `spec.finalizers[0]: Invalid value: "bad": name is neither a standard finalizer name nor is it fully qualified`},
		{"qualified name", []corev1.FinalizerName{corev1.FinalizerKubernetes, "example.com/wait"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ns.DeepCopy()
			in.ResourceVersion = ""
			in.Spec.Finalizers = tc.finalizers
			in.Status.Phase = corev1.NamespaceTerminating
			got, err := nsClient.Finalize(ctx, in, metav1.UpdateOptions{})
			if tc.wantErr != "" {
				if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("got %v, want Invalid containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("finalize: %v", err)
			}
			if !slices.Equal(got.Spec.Finalizers, tc.finalizers) || got.Status.Phase != corev1.NamespaceActive {
				t.Errorf("spec.finalizers %v, phase %q; want %v and status untouched (Active)", got.Spec.Finalizers, got.Status.Phase, tc.finalizers)
			}
		})
	}

	// The controller releases only its own finalizer; the namespace waits
	// for the other one.
	if out, err := kubectl("delete", "namespace", name, "--wait=false"); err != nil {
		t.Fatalf("kubectl delete namespace: %v\n%s", err, out)
	}
	finalizeTo(t, name, nil)
	waitGone(t, name)
}
