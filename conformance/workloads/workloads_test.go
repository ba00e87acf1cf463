package workloads

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/internal/testserver"
	"github.com/skiff-dev/skiff/kubelet/hollow"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports: [{containerPort: 80}]
`

// TestDeploymentLifecycle: a Deployment runs its replicas spread over the
// nodes, scales, rolls out a new image and back, replaces a pod deleted by
// hand, and takes its ReplicaSets and pods with it when deleted.
func TestDeploymentLifecycle(t *testing.T) {
	ns := namespace(t)
	ctx := t.Context()
	kubectlIn(t, deployment, "apply", "-n", ns, "-f", "-")
	kubectl(t, "rollout", "status", "deployment/web", "-n", ns, "--timeout=120s")
	pods := runningPods(ctx, ns, "app=web")
	if len(pods) != 3 {
		t.Fatalf("%d running pods, want 3", len(pods))
	}
	if nodes := nodesOf(pods); len(nodes) != hollowNodes {
		t.Errorf("3 replicas on nodes %v, want one on each of the %d nodes", nodes, hollowNodes)
	}
	for _, p := range pods {
		if p.Status.PodIP == "" {
			t.Errorf("pod %s has no IP", p.Name)
		}
	}

	kubectl(t, "scale", "deployment/web", "-n", ns, "--replicas=5")
	kubectl(t, "rollout", "status", "deployment/web", "-n", ns, "--timeout=120s")
	eventually(t, time.Minute, "5 running pods", func(ctx context.Context) (bool, error) {
		return len(runningPods(ctx, ns, "app=web")) == 5, nil
	})

	kubectl(t, "set", "image", "deployment/web", "-n", ns, "nginx=nginx:1.28")
	kubectl(t, "rollout", "status", "deployment/web", "-n", ns, "--timeout=180s")
	imageOf := func(ctx context.Context) []string {
		var images []string
		for _, p := range runningPods(ctx, ns, "app=web") {
			images = append(images, p.Spec.Containers[0].Image)
		}
		return images
	}
	eventually(t, time.Minute, "all pods on nginx:1.28", func(ctx context.Context) (bool, error) {
		images := imageOf(ctx)
		return len(images) == 5 && !strings.Contains(strings.Join(images, ","), "1.27"), nil
	})
	if out := kubectl(t, "rollout", "history", "deployment/web", "-n", ns); !strings.Contains(out, "1 ") || !strings.Contains(out, "2 ") {
		t.Errorf("rollout history:\n%s", out)
	}
	kubectl(t, "rollout", "undo", "deployment/web", "-n", ns)
	kubectl(t, "rollout", "status", "deployment/web", "-n", ns, "--timeout=180s")
	eventually(t, time.Minute, "all pods back on nginx:1.27", func(ctx context.Context) (bool, error) {
		images := imageOf(ctx)
		return len(images) == 5 && !strings.Contains(strings.Join(images, ","), "1.28"), nil
	})

	// A pod deleted by hand comes back.
	victim := runningPods(ctx, ns, "app=web")[0].Name
	kubectl(t, "delete", "pod", victim, "-n", ns, "--wait=true")
	eventually(t, time.Minute, "a replacement for the deleted pod", func(ctx context.Context) (bool, error) {
		pods := runningPods(ctx, ns, "app=web")
		for _, p := range pods {
			if p.Name == victim {
				return false, nil
			}
		}
		return len(pods) == 5, nil
	})

	// Deleting the Deployment cascades to its ReplicaSets and pods.
	kubectl(t, "delete", "deployment", "web", "-n", ns)
	eventually(t, 2*time.Minute, "no ReplicaSets or pods left", func(ctx context.Context) (bool, error) {
		rs, err := cluster.client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		pods, err := cluster.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(rs.Items) == 0 && len(pods.Items) == 0, nil
	})
}

// TestDaemonSetOnEveryNode: a DaemonSet runs a pod on every node,
// including a node that joins later.
func TestDaemonSetOnEveryNode(t *testing.T) {
	ns := namespace(t)
	ctx := t.Context()
	kubectlIn(t, `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: busybox, command: [sleep, "100000"]}]
`, "apply", "-n", ns, "-f", "-")
	eventually(t, 2*time.Minute, "an agent on each node", func(ctx context.Context) (bool, error) {
		return len(nodesOf(runningPods(ctx, ns, "app=agent"))) == len(readyNodes(ctx, cluster.client)), nil
	})

	// A node joins: a hollow kubelet of this test's own.
	cfg, err := cluster.server.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	late, err := hollow.NewForConfig(cfg, hollow.Options{Nodes: 1, Prefix: "late-daemonset-node-"})
	if err != nil {
		t.Fatal(err)
	}
	lateCtx, stop := context.WithCancel(ctx)
	defer stop()
	go late.Run(lateCtx)
	t.Cleanup(func() {
		_ = cluster.client.CoreV1().Nodes().Delete(context.Background(), "late-daemonset-node-0", metav1.DeleteOptions{})
	})
	eventually(t, 2*time.Minute, "an agent on the node that joined", func(ctx context.Context) (bool, error) {
		for _, p := range runningPods(ctx, ns, "app=agent") {
			if p.Spec.NodeName == "late-daemonset-node-0" {
				return true, nil
			}
		}
		return false, nil
	})
	kubectl(t, "rollout", "status", "daemonset/agent", "-n", ns, "--timeout=60s")
}

// TestJobCompletes: a Job whose pods sleep a second completes.
func TestJobCompletes(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	kubectlIn(t, `apiVersion: batch/v1
kind: Job
metadata: {name: nap}
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: nap, image: busybox, command: [sleep, "1"]}]
`, "apply", "-n", ns, "-f", "-")
	r := cluster.server.KubectlWith(t, testserver.KubectlOptions{Timeout: 3 * time.Minute}, "wait", "--for=condition=Complete", "job/nap", "-n", ns, "--timeout=150s")
	if r.Err != nil {
		t.Fatalf("the job did not complete: %v\n%s%s\n%s", r.Err, r.Stdout, r.Stderr, kubectl(t, "get", "job,pods", "-n", ns, "-o", "wide", "--show-labels"))
	}
	if out := kubectl(t, "get", "job", "nap", "-n", ns); !strings.Contains(out, "3/3") {
		t.Errorf("kubectl get job:\n%s", out)
	}
}

// TestCronJobFires: a CronJob running every minute creates a Job, which
// completes.
func TestCronJobFires(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	kubectlIn(t, `apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: tick, image: busybox, command: [sleep, "1"]}]
`, "apply", "-n", ns, "-f", "-")
	eventually(t, 150*time.Second, "a completed Job of the CronJob", func(ctx context.Context) (bool, error) {
		jobs, err := cluster.client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, j := range jobs.Items {
			for _, c := range j.Status.Conditions {
				if c.Type == "Complete" && c.Status == corev1.ConditionTrue {
					return true, nil
				}
			}
		}
		return false, nil
	})
	cj, err := cluster.client.BatchV1().CronJobs(ns).Get(t.Context(), "tick", metav1.GetOptions{})
	if err != nil || cj.Status.LastScheduleTime == nil {
		t.Errorf("cronjob status %+v (%v)", cj.Status, err)
	}
}

// TestNodeStopsHeartbeating: a node whose kubelet goes silent is tainted
// unreachable, and the pods on it are replaced on other nodes.
func TestNodeStopsHeartbeating(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	ctx := t.Context()
	cfg, err := cluster.server.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	const node = "doomed-node-0"
	doomed, err := hollow.NewForConfig(cfg, hollow.Options{Nodes: 1, Prefix: "doomed-node-"})
	if err != nil {
		t.Fatal(err)
	}
	doomedCtx, stop := context.WithCancel(ctx)
	defer stop()
	go doomed.Run(doomedCtx)
	t.Cleanup(func() {
		_ = cluster.client.CoreV1().Nodes().Delete(context.Background(), node, metav1.DeleteOptions{})
	})
	// Ready, and without the not-ready taint the node lifecycle controller
	// lifts a moment later: until then the scheduler must pass it by.
	eventually(t, time.Minute, "the new node Ready and untainted", func(ctx context.Context) (bool, error) {
		n, err := cluster.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil || len(n.Spec.Taints) != 0 {
			return false, nil
		}
		return slices.Contains(readyNodes(ctx, cluster.client), node), nil
	})
	// Pinned to the doomed node by preference, and tolerating its loss for
	// 5 s rather than the default 300 s.
	kubectlIn(t, `apiVersion: apps/v1
kind: Deployment
metadata: {name: pinned}
spec:
  replicas: 2
  selector: {matchLabels: {app: pinned}}
  template:
    metadata: {labels: {app: pinned}}
    spec:
      affinity:
        nodeAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            preference: {matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [`+node+`]}]}
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
      containers: [{name: c, image: nginx}]
`, "apply", "-n", ns, "-f", "-")
	kubectl(t, "rollout", "status", "deployment/pinned", "-n", ns, "--timeout=120s")
	onDoomed := 0
	for _, p := range runningPods(ctx, ns, "app=pinned") {
		if p.Spec.NodeName == node {
			onDoomed++
		}
	}
	if onDoomed == 0 {
		t.Fatalf("no pod landed on %s", node)
	}

	stop() // the kubelet goes silent
	eventually(t, 3*time.Minute, "the unreachable taint", func(ctx context.Context) (bool, error) {
		n, err := cluster.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, err
		}
		for _, taint := range n.Spec.Taints {
			if taint.Key == corev1.TaintNodeUnreachable && taint.Effect == corev1.TaintEffectNoExecute {
				return true, nil
			}
		}
		return false, nil
	})
	eventually(t, 2*time.Minute, "2 pods running elsewhere", func(ctx context.Context) (bool, error) {
		pods := runningPods(ctx, ns, "app=pinned")
		for _, p := range pods {
			if p.Spec.NodeName == node {
				return false, nil
			}
		}
		return len(pods) == 2, nil
	})
}
