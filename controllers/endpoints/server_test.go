package endpoints_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/internal/testserver"
)

// TestEndpointsAndSlices runs the endpoint and endpointslice controllers in
// a real server. No kubelet runs, so the test writes the pods' status (IP,
// readiness) itself, as upstream's controller integration tests do.
func TestEndpointsAndSlices(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	client, err := s.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ns := testserver.Namespace(t, client)
	// EndpointSlices leave out pods whose node does not exist.
	if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"team": "a"}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	if _, err := client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	runPod(t, client, ns, "web-1", "10.42.0.11", true)
	runPod(t, client, ns, "web-2", "10.42.0.12", false)

	ep := waitEndpoints(t, client, ns, "web", func(ep *corev1.Endpoints) bool {
		return len(ep.Subsets) == 1 && len(ep.Subsets[0].Addresses) == 1 && len(ep.Subsets[0].NotReadyAddresses) == 1
	})
	ss := ep.Subsets[0]
	if ss.Addresses[0].IP != "10.42.0.11" || ss.NotReadyAddresses[0].IP != "10.42.0.12" ||
		ss.Addresses[0].TargetRef == nil || ss.Addresses[0].TargetRef.Name != "web-1" || *ss.Addresses[0].NodeName != "n1" {
		t.Errorf("subset %+v", ss)
	}
	if len(ss.Ports) != 1 || ss.Ports[0].Name != "http" || ss.Ports[0].Port != 8080 || ss.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("ports %+v", ss.Ports)
	}
	if ep.Labels["team"] != "a" || ep.Labels["endpoints.kubernetes.io/managed-by"] != "endpoint-controller" {
		t.Errorf("labels %v", ep.Labels)
	}

	slice := waitSlice(t, client, ns, "web", func(s *discoveryv1.EndpointSlice) bool { return len(s.Endpoints) == 2 })
	if slice.AddressType != discoveryv1.AddressTypeIPv4 || slice.Labels[discoveryv1.LabelManagedBy] != "endpointslice-controller.k8s.io" ||
		len(slice.Ports) != 1 || *slice.Ports[0].Port != 8080 || *slice.Ports[0].Name != "http" {
		t.Errorf("slice %+v", slice)
	}
	for _, e := range slice.Endpoints {
		wantReady := e.Addresses[0] == "10.42.0.11"
		if *e.Conditions.Ready != wantReady || *e.Conditions.Serving != wantReady || *e.Conditions.Terminating {
			t.Errorf("endpoint %v conditions %+v", e.Addresses, e.Conditions)
		}
		if e.TargetRef == nil || e.NodeName == nil || *e.NodeName != "n1" {
			t.Errorf("endpoint %+v", e)
		}
	}

	// Deleting a pod takes it out of both.
	if err := client.CoreV1().Pods(ns).Delete(ctx, "web-2", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	waitEndpoints(t, client, ns, "web", func(ep *corev1.Endpoints) bool {
		return len(ep.Subsets) == 1 && len(ep.Subsets[0].Addresses) == 1 && len(ep.Subsets[0].NotReadyAddresses) == 0
	})
	waitSlice(t, client, ns, "web", func(s *discoveryv1.EndpointSlice) bool { return len(s.Endpoints) == 1 })

	// Headless with publishNotReadyAddresses: every pod is an address.
	headless := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "peers"},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone, PublishNotReadyAddresses: true,
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := client.CoreV1().Services(ns).Create(ctx, headless, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	runPod(t, client, ns, "web-3", "10.42.0.13", false)
	ep = waitEndpoints(t, client, ns, "peers", func(ep *corev1.Endpoints) bool {
		return len(ep.Subsets) == 1 && len(ep.Subsets[0].Addresses) == 2
	})
	if _, ok := ep.Labels[corev1.IsHeadlessService]; !ok {
		t.Errorf("headless service's endpoints lack the %s label: %v", corev1.IsHeadlessService, ep.Labels)
	}

	// A Service without a selector keeps what its user writes.
	manual := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "manual"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := client.CoreV1().Services(ns).Create(ctx, manual, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	userEP := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "manual"}, Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "192.0.2.10"}}, Ports: []corev1.EndpointPort{{Port: 80}}}}}
	if _, err := client.CoreV1().Endpoints(ns).Create(ctx, userEP, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	got, err := client.CoreV1().Endpoints(ns).Get(ctx, "manual", metav1.GetOptions{})
	if err != nil || len(got.Subsets) != 1 || got.Subsets[0].Addresses[0].IP != "192.0.2.10" {
		t.Errorf("user endpoints of a selectorless service changed: %+v %v", got, err)
	}

	// Deleting the Service deletes its Endpoints.
	if err := client.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Error("the endpoints of a deleted service remain")
	}

	// Endpoints without a Service are the user's: changing them does not
	// make the controller delete them (conformance: "should test the
	// lifecycle of an Endpoint").
	byHand := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "by-hand", Labels: map[string]string{"test": "x"}},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.42.0.30"}}, Ports: []corev1.EndpointPort{{Port: 80}}}}}
	if _, err := client.CoreV1().Endpoints(ns).Create(ctx, byHand, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Endpoints(ns).Patch(ctx, "by-hand", types.MergePatchType, []byte(`{"metadata":{"labels":{"test":"patched"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if got, err := client.CoreV1().Endpoints(ns).Get(ctx, "by-hand", metav1.GetOptions{}); err != nil || got.Labels["test"] != "patched" {
		t.Errorf("endpoints without a service after a patch: %v, %v", got, err)
	}
}

// runPod creates a pod on node n1 with a named container port and writes
// the status a kubelet would: Running, an IP, and Ready as asked.
func runPod(t *testing.T, client kubernetes.Interface, ns, name, ip string, ready bool) {
	t.Helper()
	ctx := t.Context()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{
			Name: "web", Image: "nginx", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		}}},
	}
	created, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	created.Status.Phase = corev1.PodRunning
	created.Status.PodIP = ip
	created.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	created.Status.Conditions = append(created.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: status})
	if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func waitEndpoints(t *testing.T, client kubernetes.Interface, ns, name string, ok func(*corev1.Endpoints) bool) *corev1.Endpoints {
	t.Helper()
	var last *corev1.Endpoints
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		ep, err := client.CoreV1().Endpoints(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = ep
		return ok(ep), nil
	})
	if err != nil {
		t.Fatalf("endpoints %s/%s never as expected; last %+v", ns, name, last)
	}
	return last
}

func waitSlice(t *testing.T, client kubernetes.Interface, ns, svc string, ok func(*discoveryv1.EndpointSlice) bool) *discoveryv1.EndpointSlice {
	t.Helper()
	var last []discoveryv1.EndpointSlice
	var found *discoveryv1.EndpointSlice
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
		if err != nil {
			return false, nil
		}
		last = list.Items
		i := slices.IndexFunc(list.Items, func(s discoveryv1.EndpointSlice) bool { return ok(&s) })
		if len(list.Items) != 1 || i < 0 {
			return false, nil
		}
		found = &list.Items[i]
		return true, nil
	})
	if err != nil {
		t.Fatalf("endpointslices of %s/%s never as expected; last %s", ns, svc, fmt.Sprint(last))
	}
	return found
}
