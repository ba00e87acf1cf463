package e2e

import (
	"bufio"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// TestKubectlGetWatch runs `kubectl get -w` and checks it reports an add and
// then an update of a ConfigMap.
func TestKubectlGetWatch(t *testing.T) {
	ns := namespace(t)
	cmd := suite.server.KubectlCommand(t.Context(), "get", "configmaps", "-n", ns, "-l", "e2e=watch", "-w", "--output-watch-events")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// expect waits for a line holding every word, returning what it saw.
	expect := func(what string, words ...string) {
		t.Helper()
		timeout := time.After(20 * time.Second)
		var seen []string
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("kubectl get -w ended before %s; saw %q; stderr: %s", what, seen, stderr.String())
				}
				seen = append(seen, line)
				f := strings.Fields(line)
				if containsAll(f, words) {
					return
				}
			case <-timeout:
				t.Fatalf("kubectl get -w did not report %s within 20s; saw %q; stderr: %s", what, seen, stderr.String())
			}
		}
	}

	// Give kubectl time to establish its watch: the initial list is empty,
	// so nothing is printed until the add.
	time.Sleep(2 * time.Second)
	kubectl(t, "create", "configmap", "-n", ns, "watched", "--from-literal=a=1")
	kubectl(t, "label", "-n", ns, "configmap/watched", "e2e=watch")
	expect("the add", "ADDED", "watched")
	kubectl(t, "patch", "-n", ns, "configmap/watched", "--type=merge", "-p", `{"data":{"b":"2"}}`)
	expect("the update", "MODIFIED", "watched", "2")
}

func containsAll(fields, words []string) bool {
	for _, w := range words {
		found := false
		for _, f := range fields {
			if f == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// TestInformerConfigMaps runs a client-go shared informer, as every
// controller does, and checks it sees adds, updates and deletes.
func TestInformerConfigMaps(t *testing.T) {
	ns := namespace(t)
	cs := clientset(t)
	// The selector keeps out objects that controllers put in every namespace.
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "e2e=informer" }))
	inf := factory.Core().V1().ConfigMaps().Informer()

	type event struct{ kind, name, value string }
	var mu sync.Mutex
	var events []event
	record := func(kind string, obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok {
			return
		}
		mu.Lock()
		events = append(events, event{kind, cm.Name, cm.Data["v"]})
		mu.Unlock()
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { record("add", obj) },
		UpdateFunc: func(_, obj any) { record("update", obj) },
		DeleteFunc: func(obj any) { record("delete", obj) },
	}); err != nil {
		t.Fatal(err)
	}
	// One object exists before the informer starts; it must arrive as an add
	// from the initial list.
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(t.Context(), cm("before", "0"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	factory.Start(t.Context().Done())
	t.Cleanup(factory.Shutdown)
	if !cache.WaitForCacheSync(t.Context().Done(), inf.HasSynced) {
		t.Fatal("informer cache did not sync")
	}

	waitFor := func(want event) {
		t.Helper()
		eventually(t, 15*time.Second, fmt.Sprintf("informer event %+v", want), func() error {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range events {
				if e == want {
					return nil
				}
			}
			return fmt.Errorf("events so far: %+v", events)
		})
	}
	waitFor(event{"add", "before", "0"})

	c, err := cs.CoreV1().ConfigMaps(ns).Create(t.Context(), cm("during", "1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(event{"add", "during", "1"})
	c.Data["v"] = "2"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(t.Context(), c, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(event{"update", "during", "2"})
	if err := cs.CoreV1().ConfigMaps(ns).Delete(t.Context(), "during", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(event{"delete", "during", "2"})

	// The lister, which controllers read instead of the server, agrees.
	eventually(t, 5*time.Second, "lister contents", func() error {
		list, err := factory.Core().V1().ConfigMaps().Lister().ConfigMaps(ns).List(labels.Everything())
		if err != nil {
			return err
		}
		var names []string
		for _, c := range list {
			names = append(names, c.Name)
		}
		if strings.Join(names, ",") != "before" {
			return fmt.Errorf("lister has %v, want [before]", names)
		}
		return nil
	})
}

func cm(name, v string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"e2e": "informer"}},
		Data:       map[string]string{"v": v},
	}
}
