package podautoscaler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	custommetricsv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/testserver"
)

var cluster struct {
	server *testserver.Server
	client kubernetes.Interface
}

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{HollowNodes: 2}, func(s *testserver.Server) {
		cluster.server = s
		c, err := s.Clientset()
		if err != nil {
			panic(err)
		}
		cluster.client = c
	}))
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	r := cluster.server.KubectlWith(t, testserver.KubectlOptions{Timeout: 2 * time.Minute}, args...)
	if r.Err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

func kubectlApply(t *testing.T, manifest string) {
	t.Helper()
	r := cluster.server.KubectlWith(t, testserver.KubectlOptions{Stdin: manifest, Timeout: time.Minute}, "apply", "-f", "-")
	if r.Err != nil {
		t.Fatalf("kubectl apply: %v\n%s%s\n%s", r.Err, r.Stdout, r.Stderr, manifest)
	}
}

// deployment makes a deployment of replicas pods that request 100m CPU
// and waits for its rollout. Every pod has the request from the start: the
// HPA, as upstream's, fails on a pod without one, terminating or not.
func deployment(t *testing.T, ns, name string, replicas int) {
	t.Helper()
	kubectlApply(t, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  replicas: %[3]d
  selector: {matchLabels: {app: %[2]s}}
  template:
    metadata: {labels: {app: %[2]s}}
    spec:
      containers:
      - name: pause
        image: registry.k8s.io/pause:3.10
        resources: {requests: {cpu: 100m}}
`, ns, name, replicas))
	kubectl(t, "-n", ns, "rollout", "status", "deployment/"+name, "--timeout=90s")
}

// waitFor polls the HPA until ok holds, for up to timeout.
func waitFor(t *testing.T, ns, name string, timeout time.Duration, what string, ok func(*autoscalingv2.HorizontalPodAutoscaler) bool) *autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	var last *autoscalingv2.HorizontalPodAutoscaler
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		hpa, err := cluster.client.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = hpa
		return ok(hpa), nil
	})
	if err != nil {
		b, _ := json.MarshalIndent(last, "", "  ")
		t.Fatalf("HPA %s/%s: waiting for %s: %v; last seen:\n%s", ns, name, what, err, b)
	}
	return last
}

func waitReplicas(t *testing.T, ns, name string, want int32, timeout time.Duration) {
	t.Helper()
	var got int32
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		d, err := cluster.client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		got = *d.Spec.Replicas
		return got == want, nil
	})
	if err != nil {
		t.Fatalf("deployment %s/%s: replicas %d, want %d: %v", ns, name, got, want, err)
	}
}

func condition(hpa *autoscalingv2.HorizontalPodAutoscaler, t autoscalingv2.HorizontalPodAutoscalerConditionType) autoscalingv2.HorizontalPodAutoscalerCondition {
	for _, c := range hpa.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return autoscalingv2.HorizontalPodAutoscalerCondition{}
}

func hasCondition(hpa *autoscalingv2.HorizontalPodAutoscaler, t autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason string) bool {
	c := condition(hpa, t)
	return c.Status == status && c.Reason == reason
}

// events are the HPA's events as "Type Reason Message" lines.
func events(t *testing.T, ns, name string) []string {
	t.Helper()
	list, err := cluster.client.CoreV1().Events(ns).List(t.Context(), metav1.ListOptions{FieldSelector: "involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Source.Component != "horizontal-pod-autoscaler" {
			t.Errorf("event %s from %q, want horizontal-pod-autoscaler", e.Reason, e.Source.Component)
		}
		out = append(out, e.Type+" "+e.Reason+" "+e.Message)
	}
	return out
}

func waitEvent(t *testing.T, ns, name, want string) {
	t.Helper()
	var got []string
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got = events(t, ns, name)
		for _, e := range got {
			if e == want {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no event %q for HPA %s/%s; events:\n%s", want, ns, name, strings.Join(got, "\n"))
	}
}

// The metrics error without a metrics API, as kube-controller-manager
// reports it on a cluster without metrics-server.
const noMetricsAPI = "failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"

// TestAutoscaling runs without, then with, a metrics API: the second part
// registers one for the whole cluster.
func TestAutoscaling(t *testing.T) {
	t.Run("without metrics API", func(t *testing.T) {
		ns := testserver.Namespace(t, cluster.client)
		// Established before the first HPA, so that the controller's first
		// discovery finds it (later ones are seen within 30s, as upstream).
		kubectlApply(t, widgetCRD)
		kubectl(t, "wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=30s")
		t.Run("below min", func(t *testing.T) {
			t.Parallel()
			deployment(t, ns, "small", 1)
			kubectl(t, "-n", ns, "autoscale", "deployment", "small", "--min", "2", "--max", "5", "--cpu-percent", "50")
			waitReplicas(t, ns, "small", 2, 30*time.Second)
			waitEvent(t, ns, "small", "Normal SuccessfulRescale New size: 2; reason: Current number of replicas below Spec.MinReplicas")
			hpa := waitFor(t, ns, "small", 30*time.Second, "ScalingActive False", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
				return hasCondition(h, autoscalingv2.ScalingActive, corev1.ConditionFalse, "FailedGetResourceMetric")
			})
			if got, want := condition(hpa, autoscalingv2.ScalingActive).Message, "the HPA was unable to compute the replica count: "+noMetricsAPI; got != want {
				t.Errorf("ScalingActive message %q, want %q", got, want)
			}
			if !hasCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale") {
				t.Errorf("AbleToScale: %+v", condition(hpa, autoscalingv2.AbleToScale))
			}
			if hpa.Status.CurrentReplicas != 2 || hpa.Status.DesiredReplicas != 2 || hpa.Status.LastScaleTime == nil {
				t.Errorf("status %+v, want 2 current and desired replicas and a last scale time", hpa.Status)
			}
			if hpa.Status.ObservedGeneration == nil || *hpa.Status.ObservedGeneration != hpa.Generation {
				t.Errorf("observedGeneration %v, want %d", hpa.Status.ObservedGeneration, hpa.Generation)
			}
			waitEvent(t, ns, "small", "Warning FailedGetResourceMetric "+noMetricsAPI)
			waitEvent(t, ns, "small", "Warning FailedComputeMetricsReplicas invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: "+noMetricsAPI)

			out := kubectl(t, "-n", ns, "get", "hpa", "small")
			if !strings.Contains(out, "Deployment/small") || !strings.Contains(out, "cpu: <unknown>/50%") || !strings.Contains(out, "   2   ") {
				t.Errorf("kubectl get hpa:\n%s", out)
			}
			out = kubectl(t, "-n", ns, "describe", "hpa", "small")
			for _, want := range []string{"Deployment pods:", "2 current / 2 desired", "ScalingActive  False   FailedGetResourceMetric", "SuccessfulRescale"} {
				if !strings.Contains(out, want) {
					t.Errorf("kubectl describe hpa lacks %q:\n%s", want, out)
				}
			}
		})
		t.Run("above max", func(t *testing.T) {
			t.Parallel()
			deployment(t, ns, "big", 8)
			kubectl(t, "-n", ns, "autoscale", "deployment", "big", "--min", "2", "--max", "5", "--cpu-percent", "50")
			waitReplicas(t, ns, "big", 5, 30*time.Second)
			waitEvent(t, ns, "big", "Normal SuccessfulRescale New size: 5; reason: Current number of replicas above Spec.MaxReplicas")
			hpa := waitFor(t, ns, "big", 30*time.Second, "the rescale in the status", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
				return hasCondition(h, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale")
			})
			if got, want := condition(hpa, autoscalingv2.AbleToScale).Message, "the HPA controller was able to update the target scale to 5"; got != want {
				t.Errorf("AbleToScale message %q, want %q", got, want)
			}
			if hpa.Status.CurrentReplicas != 8 || hpa.Status.DesiredReplicas != 5 {
				t.Errorf("status %d current, %d desired; want 8 and 5", hpa.Status.CurrentReplicas, hpa.Status.DesiredReplicas)
			}
		})
		t.Run("scaled to zero", func(t *testing.T) {
			t.Parallel()
			deployment(t, ns, "zero", 0)
			kubectl(t, "-n", ns, "autoscale", "deployment", "zero", "--min", "1", "--max", "3", "--cpu-percent", "50")
			hpa := waitFor(t, ns, "zero", 30*time.Second, "ScalingDisabled", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
				return hasCondition(h, autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled")
			})
			if got, want := condition(hpa, autoscalingv2.ScalingActive).Message, "scaling is disabled since the replica count of the target is zero"; got != want {
				t.Errorf("ScalingActive message %q, want %q", got, want)
			}
			if hpa.Status.LastScaleTime != nil || hpa.Status.DesiredReplicas != 0 {
				t.Errorf("status %+v: scaled a target at zero", hpa.Status)
			}
			waitReplicas(t, ns, "zero", 0, time.Second)
		})
		// Every kind with a scale subresource is a target, custom resources
		// included.
		for _, tc := range []struct{ resource, name, manifest string }{
			{"replicasets", "rs", replicaSetManifest},
			{"statefulsets", "sts", statefulSetManifest},
			{"replicationcontrollers", "rc", replicationControllerManifest},
			{"widgets.example.com", "widget", widgetManifest},
		} {
			t.Run(tc.resource, func(t *testing.T) {
				t.Parallel()
				kubectlApply(t, strings.NewReplacer("NAMESPACE", ns, "NAME", tc.name).Replace(tc.manifest))
				if tc.resource == "widgets.example.com" {
					// kubectl autoscale knows only the built-in kinds.
					kubectlApply(t, fmt.Sprintf(`apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  scaleTargetRef: {apiVersion: example.com/v1, kind: Widget, name: %[2]s}
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
`, ns, tc.name))
				} else {
					kubectl(t, "-n", ns, "autoscale", tc.resource, tc.name, "--min", "1", "--max", "5", "--cpu-percent", "50")
				}
				err := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
					r := cluster.server.KubectlWith(t, testserver.KubectlOptions{Timeout: 10 * time.Second}, "-n", ns, "get", tc.resource, tc.name, "-o", "jsonpath={.spec.replicas}")
					return r.Err == nil && r.Stdout == "5", nil
				})
				if err != nil {
					t.Fatalf("%s/%s never scaled to 5: %v", tc.resource, tc.name, err)
				}
			})
		}
	})
	t.Run("with metrics API", testWithMetricsAPI)
}

const podTemplate = `
    metadata: {labels: {app: target}}
    spec: {containers: [{name: c, image: registry.k8s.io/pause:3.10}]}`

var (
	replicaSetManifest = `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: NAME, namespace: NAMESPACE}
spec:
  replicas: 8
  selector: {matchLabels: {app: target}}
  template:` + podTemplate
	statefulSetManifest = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: NAME, namespace: NAMESPACE}
spec:
  replicas: 8
  serviceName: NAME
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: target-sts}}
  template:
    metadata: {labels: {app: target-sts}}
    spec: {containers: [{name: c, image: registry.k8s.io/pause:3.10}]}`
	replicationControllerManifest = `apiVersion: v1
kind: ReplicationController
metadata: {name: NAME, namespace: NAMESPACE}
spec:
  replicas: 8
  selector: {app: target-rc}
  template:
    metadata: {labels: {app: target-rc}}
    spec: {containers: [{name: c, image: registry.k8s.io/pause:3.10}]}`
	widgetManifest = `apiVersion: example.com/v1
kind: Widget
metadata: {name: NAME, namespace: NAMESPACE}
spec: {replicas: 8, selector: app=widget}`
)

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas, labelSelectorPath: .spec.selector}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              replicas: {type: integer}
              selector: {type: string}
          status:
            type: object
            properties:
              replicas: {type: integer}
`

// fakeMetrics serves metrics.k8s.io/v1beta1 PodMetrics for the pods of a
// namespace, each container using cpuMilli.
type fakeMetrics struct {
	client    kubernetes.Interface
	namespace string
	cpuMilli  atomic.Int64
	// qpsMilli is every pod's custom metric qps.
	qpsMilli atomic.Int64
	requests atomic.Int64
}

// pods lists the namespace's running pods matching the request's selector.
func (f *fakeMetrics) pods(r *http.Request) ([]corev1.Pod, error) {
	list, err := f.client.CoreV1().Pods(f.namespace).List(r.Context(), metav1.ListOptions{LabelSelector: r.URL.Query().Get("labelSelector")})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.Status.Phase == corev1.PodRunning {
			out = append(out, p)
		}
	}
	return out, nil
}

const customGV = "/apis/custom.metrics.k8s.io/v1beta2"

func (f *fakeMetrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const gv = "/apis/metrics.k8s.io/v1beta1"
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == gv:
		_ = json.NewEncoder(w).Encode(metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: "metrics.k8s.io/v1beta1",
			APIResources: []metav1.APIResource{
				{Name: "pods", Namespaced: true, Kind: "PodMetrics", Verbs: metav1.Verbs{"get", "list"}},
				{Name: "nodes", Kind: "NodeMetrics", Verbs: metav1.Verbs{"get", "list"}},
			},
		})
	case r.URL.Path == gv+"/namespaces/"+f.namespace+"/pods":
		f.requests.Add(1)
		pods, err := f.pods(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		list := metricsv1beta1.PodMetricsList{TypeMeta: metav1.TypeMeta{Kind: "PodMetricsList", APIVersion: "metrics.k8s.io/v1beta1"}}
		for _, p := range pods {
			m := metricsv1beta1.PodMetrics{
				ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels},
				Timestamp:  metav1.Now(),
				Window:     metav1.Duration{Duration: time.Second},
			}
			for _, c := range p.Spec.Containers {
				m.Containers = append(m.Containers, metricsv1beta1.ContainerMetrics{Name: c.Name, Usage: corev1.ResourceList{
					corev1.ResourceCPU:    *resource.NewMilliQuantity(f.cpuMilli.Load(), resource.DecimalSI),
					corev1.ResourceMemory: resource.MustParse("10Mi"),
				}})
			}
			list.Items = append(list.Items, m)
		}
		_ = json.NewEncoder(w).Encode(list)
	case r.URL.Path == customGV:
		_ = json.NewEncoder(w).Encode(metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: "custom.metrics.k8s.io/v1beta2",
			APIResources: []metav1.APIResource{{Name: "pods/qps", Namespaced: true, Kind: "MetricValueList", Verbs: metav1.Verbs{"get"}}},
		})
	case r.URL.Path == customGV+"/namespaces/"+f.namespace+"/pods/*/qps":
		f.requests.Add(1)
		pods, err := f.pods(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		list := custommetricsv1beta2.MetricValueList{TypeMeta: metav1.TypeMeta{Kind: "MetricValueList", APIVersion: "custom.metrics.k8s.io/v1beta2"}}
		for _, p := range pods {
			list.Items = append(list.Items, custommetricsv1beta2.MetricValue{
				DescribedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: p.Namespace, Name: p.Name},
				Metric:          custommetricsv1beta2.MetricIdentifier{Name: "qps"},
				Timestamp:       metav1.Now(),
				WindowSeconds:   ptr.To[int64](1),
				Value:           *resource.NewMilliQuantity(f.qpsMilli.Load(), resource.DecimalSI),
			})
		}
		_ = json.NewEncoder(w).Encode(list)
	case strings.HasPrefix(r.URL.Path, gv+"/"):
		// Other namespaces: no pods of ours.
		_ = json.NewEncoder(w).Encode(metricsv1beta1.PodMetricsList{TypeMeta: metav1.TypeMeta{Kind: "PodMetricsList", APIVersion: "metrics.k8s.io/v1beta1"}})
	default:
		http.NotFound(w, r)
	}
}

// testWithMetricsAPI serves the resource metrics API from the test,
// registered through an APIService on a Service without selector whose
// EndpointSlice points at the test's own server, as a user would run
// metrics-server outside the cluster.
func testWithMetricsAPI(t *testing.T) {
	ns := testserver.Namespace(t, cluster.client)
	metrics := &fakeMetrics{client: cluster.client, namespace: ns}
	metrics.cpuMilli.Store(200)
	// Endpoints may not be loopback addresses (as upstream validates them),
	// so the server listens on the host's own address.
	hostIP, err := testserver.HostIP()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(hostIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(metrics)
	srv.Listener.Close()
	srv.Listener = l
	srv.StartTLS()
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	host, port := u.Hostname(), u.Port()

	kubectlApply(t, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: metrics, namespace: %[1]s}
spec:
  ports: [{name: https, port: 443, targetPort: %[2]s}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: metrics-1
  namespace: %[1]s
  labels: {kubernetes.io/service-name: metrics}
addressType: IPv4
endpoints: [{addresses: [%[3]s], conditions: {ready: true}}]
ports: [{name: https, port: %[2]s, protocol: TCP}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  group: metrics.k8s.io
  version: v1beta1
  service: {namespace: %[1]s, name: metrics, port: 443}
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta2.custom.metrics.k8s.io}
spec:
  group: custom.metrics.k8s.io
  version: v1beta2
  service: {namespace: %[1]s, name: metrics, port: 443}
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 200
`, ns, port, host))
	t.Cleanup(func() {
		// t.Context() has ended by now.
		for _, name := range []string{"v1beta1.metrics.k8s.io", "v1beta2.custom.metrics.k8s.io"} {
			err := cluster.client.Discovery().RESTClient().Delete().AbsPath("/apis/apiregistration.k8s.io/v1/apiservices/" + name).Do(context.Background()).Error()
			if err != nil {
				t.Errorf("deleting APIService %s: %v", name, err)
			}
		}
	})
	kubectl(t, "wait", "--for=condition=Available", "apiservice/v1beta1.metrics.k8s.io", "apiservice/v1beta2.custom.metrics.k8s.io", "--timeout=60s")

	t.Run("scenarios", func(t *testing.T) {
		t.Run("resource metric", func(t *testing.T) {
			t.Parallel()
			resourceMetricScenario(t, ns, metrics)
		})
		t.Run("pods metric", func(t *testing.T) {
			t.Parallel()
			podsMetricScenario(t, ns, metrics)
		})
	})
	if metrics.requests.Load() == 0 {
		t.Error("the fake metrics server was never asked")
	}
}

// podsMetricScenario scales on a custom metric of the pods: 25 qps each
// against a target of 10 a pod asks for three pods.
func podsMetricScenario(t *testing.T, ns string, metrics *fakeMetrics) {
	metrics.qpsMilli.Store(25000)
	deployment(t, ns, "api", 1)
	kubectlApply(t, fmt.Sprintf(`apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api, namespace: %s}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  maxReplicas: 10
  metrics:
  - type: Pods
    pods:
      metric: {name: qps}
      target: {type: AverageValue, averageValue: "10"}
`, ns))
	waitReplicas(t, ns, "api", 3, 30*time.Second)
	// On target from now on.
	metrics.qpsMilli.Store(10000)
	waitEvent(t, ns, "api", "Normal SuccessfulRescale New size: 3; reason: pods metric qps above target")
	hpa := waitFor(t, ns, "api", 10*time.Second, "the scale-up in the status", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
		return h.Status.DesiredReplicas == 3
	})
	m := hpa.Status.CurrentMetrics
	if len(m) != 1 || m[0].Pods == nil || m[0].Pods.Metric.Name != "qps" || m[0].Pods.Current.AverageValue.String() != "25" {
		t.Errorf("currentMetrics %+v, want qps at 25", m)
	}
	if got := condition(hpa, autoscalingv2.ScalingActive).Message; got != "the HPA was able to successfully calculate a replica count from pods metric qps" {
		t.Errorf("ScalingActive message %q", got)
	}
	noWarnings(t, ns, "api")
}

// resourceMetricScenario scales up on CPU utilization, then down once the
// behavior's scale-down window has passed.
func resourceMetricScenario(t *testing.T, ns string, metrics *fakeMetrics) {
	deployment(t, ns, "web", 1)
	// A CPU sample of a pod within its first minutes counts once it covers
	// a whole window (1s here) since the pod became ready, as upstream has
	// it: the first sync must not come sooner.
	readyFor(t, ns, "app=web", 2*time.Second)
	// The metrics reach users through the aggregator as well.
	if out := kubectl(t, "-n", ns, "top", "pod"); !strings.Contains(out, "200m") {
		t.Errorf("kubectl top pod:\n%s", out)
	}

	kubectlApply(t, fmt.Sprintf(`apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: %s}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 20
`, ns))

	// 200m of 100m requested is 200% against a target of 50%: four pods.
	waitReplicas(t, ns, "web", 4, 30*time.Second)
	start := time.Now()
	metrics.cpuMilli.Store(30)
	waitEvent(t, ns, "web", "Normal SuccessfulRescale New size: 4; reason: cpu resource utilization (percentage of request) above target")
	hpa := waitFor(t, ns, "web", 10*time.Second, "the scale-up in the status", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
		return h.Status.DesiredReplicas == 4
	})
	if len(hpa.Status.CurrentMetrics) != 1 || hpa.Status.CurrentMetrics[0].Resource == nil ||
		*hpa.Status.CurrentMetrics[0].Resource.Current.AverageUtilization != 200 || hpa.Status.CurrentMetrics[0].Resource.Current.AverageValue.String() != "200m" {
		t.Errorf("currentMetrics %+v, want cpu at 200%% (200m)", hpa.Status.CurrentMetrics)
	}
	if !hasCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound") ||
		condition(hpa, autoscalingv2.ScalingActive).Message != "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)" {
		t.Errorf("ScalingActive %+v", condition(hpa, autoscalingv2.ScalingActive))
	}
	if !hasCondition(hpa, autoscalingv2.ScalingLimited, corev1.ConditionFalse, "DesiredWithinRange") {
		t.Errorf("ScalingLimited %+v", condition(hpa, autoscalingv2.ScalingLimited))
	}

	// 30% of four pods asks for three (ceil(0.6 * 4)), but the scale-down
	// window still holds the recommendation of four.
	hpa = waitFor(t, ns, "web", 25*time.Second, "a stabilized scale-down", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
		return hasCondition(h, autoscalingv2.AbleToScale, corev1.ConditionTrue, "ScaleDownStabilized")
	})
	if got := condition(hpa, autoscalingv2.AbleToScale).Message; got != "recent recommendations were higher than current one, applying the highest recent recommendation" {
		t.Errorf("AbleToScale message %q", got)
	}
	if hpa.Status.DesiredReplicas != 4 {
		t.Errorf("desired replicas %d within the stabilization window, want 4", hpa.Status.DesiredReplicas)
	}
	waitReplicas(t, ns, "web", 3, 30*time.Second)
	if elapsed := time.Since(start); elapsed < 20*time.Second {
		t.Errorf("scaled down after %v, within the 20s stabilization window", elapsed)
	}
	waitEvent(t, ns, "web", "Normal SuccessfulRescale New size: 3; reason: All metrics below target")
	hpa = waitFor(t, ns, "web", 10*time.Second, "the scale-down in the status", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
		return h.Status.DesiredReplicas == 3
	})
	if u := hpa.Status.CurrentMetrics[0].Resource.Current.AverageUtilization; u == nil || *u != 30 {
		t.Errorf("current utilization %v, want 30", u)
	}
	if out := kubectl(t, "-n", ns, "get", "hpa", "web"); !strings.Contains(out, "cpu: 30%/50%") {
		t.Errorf("kubectl get hpa:\n%s", out)
	}
	noWarnings(t, ns, "web")
}

// readyFor waits until the pods matching selector have been ready for d.
func readyFor(t *testing.T, ns, selector string, d time.Duration) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		pods, err := cluster.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil || len(pods.Items) == 0 {
			return false, nil
		}
		for _, p := range pods.Items {
			ready := false
			for _, c := range p.Status.Conditions {
				ready = ready || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && time.Since(c.LastTransitionTime.Time) > d)
			}
			if !ready {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("pods %s in %s not ready for %v: %v", selector, ns, d, err)
	}
}

// noWarnings fails on warning events of the HPA: with a working metrics
// API nothing should have gone wrong.
func noWarnings(t *testing.T, ns, name string) {
	t.Helper()
	for _, e := range events(t, ns, name) {
		if strings.HasPrefix(e, corev1.EventTypeWarning) {
			t.Errorf("HPA %s/%s: %s", ns, name, e)
		}
	}
}
