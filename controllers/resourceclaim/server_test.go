package resourceclaim_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/testserver"
)

var server *testserver.Server

// No scheduler runs: skiff's does not allocate devices, and the test puts
// pods on nodes itself, as upstream's controller integration tests do.
func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{Binary: os.Getenv("SKIFF_BIN"), ExtraArgs: testserver.WithoutScheduler},
		func(s *testserver.Server) { server = s }))
}

func waitFor(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 30*time.Second, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

const deviceClass = "gpu.example.com"

func template(name string) *resourcev1.ResourceClaimTemplate {
	return &resourcev1.ResourceClaimTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: resourcev1.ResourceClaimTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"from": "template"}, Annotations: map[string]string{"note": "kept"}},
			Spec:       claimSpec(),
		},
	}
}

func claimSpec() resourcev1.ResourceClaimSpec {
	return resourcev1.ResourceClaimSpec{Devices: resourcev1.DeviceClaim{Requests: []resourcev1.DeviceRequest{{
		Name:    "gpu",
		Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: deviceClass},
	}}}}
}

func pod(name, node string, claims ...corev1.PodResourceClaim) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeName:       node,
			ResourceClaims: claims,
			Containers:     []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
}

// allocate gives claim a device and reserves it for the consumers, as the
// scheduler would.
func allocate(t *testing.T, c kubernetes.Interface, claim *resourcev1.ResourceClaim, consumers ...resourcev1.ResourceClaimConsumerReference) *resourcev1.ResourceClaim {
	t.Helper()
	claim = claim.DeepCopy()
	claim.Status.Allocation = &resourcev1.AllocationResult{Devices: resourcev1.DeviceAllocationResult{Results: []resourcev1.DeviceRequestAllocationResult{{
		Request: "gpu", Driver: "gpu.example.com", Pool: "node-1", Device: "gpu-0",
	}}}}
	claim.Status.ReservedFor = consumers
	out, err := c.ResourceV1().ResourceClaims(claim.Namespace).UpdateStatus(t.Context(), claim, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("allocating claim %s: %v", claim.Name, err)
	}
	return out
}

func TestResourceClaims(t *testing.T) {
	c, err := server.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ns := testserver.Namespace(t, c)
	if _, err := c.ResourceV1().DeviceClasses().Create(ctx, &resourcev1.DeviceClass{ObjectMeta: metav1.ObjectMeta{Name: deviceClass}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := c.ResourceV1().ResourceClaimTemplates(ns).Create(ctx, template("gpu-template"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	shared, err := c.ResourceV1().ResourceClaims(ns).Create(ctx, &resourcev1.ResourceClaim{ObjectMeta: metav1.ObjectMeta{Name: "shared"}, Spec: claimSpec()}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	var generated *resourcev1.ResourceClaim
	var app *corev1.Pod
	t.Run("claims from templates", func(t *testing.T) {
		app, err = c.CoreV1().Pods(ns).Create(ctx, pod("app", "",
			corev1.PodResourceClaim{Name: "gpu", ResourceClaimTemplateName: ptr.To("gpu-template")},
			corev1.PodResourceClaim{Name: "shared", ResourceClaimName: ptr.To("shared")}), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "pod's resourceClaimStatuses", func(ctx context.Context) (bool, error) {
			app, err = c.CoreV1().Pods(ns).Get(ctx, "app", metav1.GetOptions{})
			return err == nil && len(app.Status.ResourceClaimStatuses) > 0, err
		})
		st := app.Status.ResourceClaimStatuses
		if len(st) != 1 || st[0].Name != "gpu" || st[0].ResourceClaimName == nil || !strings.HasPrefix(*st[0].ResourceClaimName, "app-gpu-") {
			t.Fatalf("resourceClaimStatuses %+v", st)
		}
		generated, err = c.ResourceV1().ResourceClaims(ns).Get(ctx, *st[0].ResourceClaimName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: "app", UID: app.UID, Controller: ptr.To(true)}
		if len(generated.OwnerReferences) != 1 || !ownerEqual(generated.OwnerReferences[0], want) {
			t.Errorf("owner references %+v, want %+v", generated.OwnerReferences, want)
		}
		if generated.Annotations[resourcev1.PodResourceClaimAnnotation] != "gpu" || generated.Annotations["note"] != "kept" || generated.Labels["from"] != "template" ||
			len(generated.Spec.Devices.Requests) != 1 || generated.Spec.Devices.Requests[0].Exactly.DeviceClassName != deviceClass {
			t.Errorf("generated claim %+v", generated)
		}
		applied := false
		for _, mf := range app.ManagedFields {
			applied = applied || (mf.Manager == "ResourceClaimController" && mf.Subresource == "status")
		}
		if !applied {
			t.Errorf("resourceClaimStatuses not applied by ResourceClaimController: %+v", app.ManagedFields)
		}
		// Later syncs (the pod's status changed) make no second claim.
		time.Sleep(time.Second)
		list, err := c.ResourceV1().ResourceClaims(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 2 {
			t.Errorf("%d claims, want the shared and one generated", len(list.Items))
		}
		out, _, err := server.Kubectl(t, "get", "resourceclaims", "-n", ns)
		if err != nil || !strings.Contains(out, generated.Name) || !strings.Contains(out, "shared") {
			t.Errorf("kubectl get resourceclaims: %v\n%s", err, out)
		}
	})

	t.Run("a missing template is reported, then used once it exists", func(t *testing.T) {
		if _, err := c.CoreV1().Pods(ns).Create(ctx, pod("waiting", "", corev1.PodResourceClaim{Name: "gpu", ResourceClaimTemplateName: ptr.To("later")}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		want := `PodResourceClaim gpu: resource claim template "later": resourceclaimtemplate.resource.k8s.io "later" not found`
		waitFor(t, "FailedResourceClaimCreation event", func(ctx context.Context) (bool, error) {
			list, err := c.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=waiting,reason=FailedResourceClaimCreation"})
			if err != nil {
				return false, err
			}
			for _, e := range list.Items {
				if e.Message == want && e.Type == corev1.EventTypeWarning && e.Source.Component == "resource_claim" {
					return true, nil
				}
			}
			return false, nil
		})
		if _, err := c.ResourceV1().ResourceClaimTemplates(ns).Create(ctx, template("later"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "claim from the late template", func(ctx context.Context) (bool, error) {
			p, err := c.CoreV1().Pods(ns).Get(ctx, "waiting", metav1.GetOptions{})
			return err == nil && len(p.Status.ResourceClaimStatuses) == 1, err
		})
	})

	t.Run("reservations of pods that are gone are dropped", func(t *testing.T) {
		ghost := resourcev1.ResourceClaimConsumerReference{Resource: "pods", Name: "ghost", UID: "00000000-0000-0000-0000-000000000001"}
		allocate(t, c, shared, ghost)
		waitFor(t, "ghost reservation dropped", func(ctx context.Context) (bool, error) {
			claim, err := c.ResourceV1().ResourceClaims(ns).Get(ctx, "shared", metav1.GetOptions{})
			return err == nil && len(claim.Status.ReservedFor) == 0, err
		})
	})

	t.Run("an allocated claim is reserved for its scheduled pod", func(t *testing.T) {
		claim, err := c.ResourceV1().ResourceClaims(ns).Get(ctx, "shared", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if claim.Status.Allocation == nil {
			allocate(t, c, claim)
		}
		p, err := c.CoreV1().Pods(ns).Create(ctx, pod("bound", "node-1", corev1.PodResourceClaim{Name: "shared", ResourceClaimName: ptr.To("shared")}), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "reservation for the pod", func(ctx context.Context) (bool, error) {
			claim, err := c.ResourceV1().ResourceClaims(ns).Get(ctx, "shared", metav1.GetOptions{})
			return err == nil && len(claim.Status.ReservedFor) == 1 && claim.Status.ReservedFor[0].UID == p.UID && claim.Status.ReservedFor[0].Name == "bound", err
		})
		// The pod finishing frees the claim again.
		p.Status.Phase = corev1.PodSucceeded
		if _, err := c.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "reservation of the finished pod dropped", func(ctx context.Context) (bool, error) {
			claim, err := c.ResourceV1().ResourceClaims(ns).Get(ctx, "shared", metav1.GetOptions{})
			return err == nil && len(claim.Status.ReservedFor) == 0, err
		})
	})

	t.Run("the generated claim of a finished pod is deleted", func(t *testing.T) {
		// Only a pod on a node can finish.
		binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}
		if err := c.CoreV1().Pods(ns).Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p, err := c.CoreV1().Pods(ns).Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Phase = corev1.PodFailed
		if _, err := c.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "generated claim deleted", func(ctx context.Context) (bool, error) {
			_, err := c.ResourceV1().ResourceClaims(ns).Get(ctx, generated.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		})
		// A claim by name is its user's: it stays.
		if _, err := c.ResourceV1().ResourceClaims(ns).Get(ctx, "shared", metav1.GetOptions{}); err != nil {
			t.Errorf("shared claim: %v", err)
		}
	})
}

func ownerEqual(a, b metav1.OwnerReference) bool {
	return a.APIVersion == b.APIVersion && a.Kind == b.Kind && a.Name == b.Name && a.UID == b.UID &&
		ptr.Deref(a.Controller, false) == ptr.Deref(b.Controller, false) && a.BlockOwnerDeletion == nil
}
