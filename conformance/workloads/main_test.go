// Package workloads drives the seed scenarios of skiff's control plane with
// stock kubectl against a real server whose nodes are hollow: workloads
// must converge as on Kubernetes, pods going Running on hollow kubelets.
package workloads

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/internal/testserver"
)

// hollowNodes is how many nodes the shared server plays.
const hollowNodes = 3

var cluster struct {
	server *testserver.Server
	client kubernetes.Interface
}

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{HollowNodes: hollowNodes}, func(s *testserver.Server) {
		cluster.server = s
		c, err := s.Clientset()
		if err != nil {
			panic(err)
		}
		cluster.client = c
		// The scenarios need every node Ready before they start.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			return len(readyNodes(ctx, c)) >= hollowNodes, nil
		}); err != nil {
			panic(fmt.Sprintf("the hollow nodes never became Ready: %v", err))
		}
	}))
}

func readyNodes(ctx context.Context, c kubernetes.Interface) []string {
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var ready []string
	for _, n := range nodes.Items {
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue && !n.Spec.Unschedulable {
				ready = append(ready, n.Name)
			}
		}
	}
	return ready
}

// kubectl runs stock kubectl; the scenarios' own --timeout flags bound
// their waits, within the 4 minutes a run may take.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	r := cluster.server.KubectlWith(t, testserver.KubectlOptions{Timeout: 4 * time.Minute}, args...)
	if r.Err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

func kubectlIn(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := cluster.server.KubectlWith(t, testserver.KubectlOptions{Stdin: stdin, Timeout: 3 * time.Minute}, args...)
	if r.Err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

func namespace(t *testing.T) string {
	return testserver.Namespace(t, cluster.client)
}

// eventually polls cond every 200 ms for up to timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, timeout, true, cond); err != nil {
		t.Fatalf("%s: not within %s", what, timeout)
	}
}

// runningPods are the pods of ns matching selector that run and are ready,
// not terminating.
func runningPods(ctx context.Context, ns, selector string) []corev1.Pod {
	list, err := cluster.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				out = append(out, p)
			}
		}
	}
	return out
}

func nodesOf(pods []corev1.Pod) []string {
	var nodes []string
	for _, p := range pods {
		if !slices.Contains(nodes, p.Spec.NodeName) {
			nodes = append(nodes, p.Spec.NodeName)
		}
	}
	slices.Sort(nodes)
	return nodes
}
