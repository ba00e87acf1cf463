package admission_test

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-dev/skiff/internal/testserver"
)

var srv *testserver.Server

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{Binary: os.Getenv("SKIFF_BIN")}, func(s *testserver.Server) { srv = s }))
}

// warnings collects the Warning headers a client sees.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func clients(t *testing.T) (kubernetes.Interface, *warnings) {
	t.Helper()
	cfg, err := srv.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	w := &warnings{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = w
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

func pod(name string, mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func privileged(p *corev1.Pod) {
	yes := true
	p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &yes}
}

func TestPodSecurity(t *testing.T) {
	c, w := clients(t)
	tests := []struct {
		name        string
		labels      map[string]string
		pod         *corev1.Pod
		wantErr     string
		wantWarning string
	}{
		{
			name:    "restricted rejects privileged",
			labels:  map[string]string{"pod-security.kubernetes.io/enforce": "restricted"},
			pod:     pod("p", privileged),
			wantErr: `pods "p" is forbidden: violates PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true), allowPrivilegeEscalation != false`,
		},
		{
			name:   "baseline allows a plain pod",
			labels: map[string]string{"pod-security.kubernetes.io/enforce": "baseline"},
			pod:    pod("p", nil),
		},
		{
			name:    "baseline rejects privileged",
			labels:  map[string]string{"pod-security.kubernetes.io/enforce": "baseline"},
			pod:     pod("p", privileged),
			wantErr: `violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`,
		},
		{
			name:        "warn restricted admits with a warning",
			labels:      map[string]string{"pod-security.kubernetes.io/warn": "restricted"},
			pod:         pod("p", nil),
			wantWarning: `would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)`,
		},
		{
			name:   "unlabelled namespace is privileged",
			labels: nil,
			pod:    pod("p", privileged),
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "psa-" + string(rune('a'+i)), Labels: tt.labels}}
			if _, err := c.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			waitForDefaultAccount(t, c, ns.Name)
			w.mu.Lock()
			w.msgs = nil
			w.mu.Unlock()
			_, err := c.CoreV1().Pods(ns.Name).Create(t.Context(), tt.pod, metav1.CreateOptions{})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("pod admitted, want error %q", tt.wantErr)
			case tt.wantErr != "":
				if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q (forbidden=%v), want it to contain %q", err, apierrors.IsForbidden(err), tt.wantErr)
				}
			}
			w.mu.Lock()
			got := strings.Join(w.msgs, "\n")
			w.mu.Unlock()
			if tt.wantWarning != "" && !strings.Contains(got, tt.wantWarning) {
				t.Fatalf("warnings %q, want one containing %q", got, tt.wantWarning)
			}
			if tt.wantWarning == "" && strings.Contains(got, "PodSecurity") {
				t.Fatalf("unexpected PodSecurity warning %q", got)
			}
		})
	}
}

func TestSystemPriorityClasses(t *testing.T) {
	c, _ := clients(t)
	tests := []struct {
		name  string
		value int32
		desc  string
	}{
		{"system-cluster-critical", 2000000000, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."},
		{"system-node-critical", 2000001000, "Used for system critical pods that must not be moved from their current node."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, err := c.SchedulingV1().PriorityClasses().Get(t.Context(), tt.name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if pc.Value != tt.value || pc.Description != tt.desc || pc.GlobalDefault {
				t.Fatalf("got value %d description %q globalDefault %v, want %d %q false", pc.Value, pc.Description, pc.GlobalDefault, tt.value, tt.desc)
			}
		})
	}
}

func TestPriority(t *testing.T) {
	c, _ := clients(t)
	ns := nsWithDefaultAccount(t, c)
	never := corev1.PreemptNever
	tests := []struct {
		name       string
		pod        *corev1.Pod
		wantErr    string
		wantPrio   int32
		wantPolicy corev1.PreemptionPolicy
	}{
		{
			name:       "system-node-critical",
			pod:        pod("node-critical", func(p *corev1.Pod) { p.Spec.PriorityClassName = "system-node-critical" }),
			wantPrio:   2000001000,
			wantPolicy: corev1.PreemptLowerPriority,
		},
		{
			name:       "no class",
			pod:        pod("no-class", nil),
			wantPrio:   0,
			wantPolicy: corev1.PreemptLowerPriority,
		},
		{
			name:    "unknown class",
			pod:     pod("unknown", func(p *corev1.Pod) { p.Spec.PriorityClassName = "nope" }),
			wantErr: `pods "unknown" is forbidden: no PriorityClass with name nope was found`,
		},
		{
			name: "priority that disagrees with the class",
			pod: pod("mismatch", func(p *corev1.Pod) {
				p.Spec.PriorityClassName = "system-cluster-critical"
				v := int32(5)
				p.Spec.Priority = &v
			}),
			wantErr: `pods "mismatch" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 2000000000 from the given PriorityClass name`,
		},
		{
			name: "preemption policy that disagrees with the class",
			pod: pod("policy", func(p *corev1.Pod) {
				p.Spec.PriorityClassName = "system-cluster-critical"
				p.Spec.PreemptionPolicy = &never
			}),
			wantErr: `pods "policy" is forbidden: the string value of PreemptionPolicy (Never) must not be provided in pod spec; priority admission controller computed PreemptLowerPriority from the given PriorityClass name`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.CoreV1().Pods(ns).Create(t.Context(), tt.pod, metav1.CreateOptions{})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Spec.Priority == nil || *got.Spec.Priority != tt.wantPrio {
				t.Fatalf("priority %v, want %d", got.Spec.Priority, tt.wantPrio)
			}
			if got.Spec.PreemptionPolicy == nil || *got.Spec.PreemptionPolicy != tt.wantPolicy {
				t.Fatalf("preemptionPolicy %v, want %s", got.Spec.PreemptionPolicy, tt.wantPolicy)
			}
			// Deletes pass through the plugin too and must not trip on
			// the missing new object.
			if err := c.CoreV1().Pods(ns).Delete(t.Context(), got.Name, metav1.DeleteOptions{}); err != nil {
				t.Fatalf("deleting: %v", err)
			}
		})
	}
}

// TestPriorityDefaultClass runs last: while its globalDefault class exists,
// class-less pods get it.
func TestPriorityDefaultClass(t *testing.T) {
	c, _ := clients(t)
	ns := testserver.Namespace(t, c)
	never := corev1.PreemptNever
	pcs := c.SchedulingV1().PriorityClasses()
	waitForDefaultAccount(t, c, ns)
	def := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "test-default"}, Value: 10, GlobalDefault: true, PreemptionPolicy: &never}
	if _, err := pcs.Create(t.Context(), def, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pcs.Delete(t.Context(), def.Name, metav1.DeleteOptions{}) })

	// The plugin reads classes from an informer, so wait until it knows.
	var got *corev1.Pod
	for i := 0; ; i++ {
		p, err := c.CoreV1().Pods(ns).Create(t.Context(), pod("", func(p *corev1.Pod) { p.GenerateName = "p-" }), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Fatal(err)
		}
		if p.Spec.PriorityClassName != "" || i == 50 {
			got = p
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got.Spec.PriorityClassName != "test-default" || got.Spec.Priority == nil || *got.Spec.Priority != 10 ||
		got.Spec.PreemptionPolicy == nil || *got.Spec.PreemptionPolicy != never {
		t.Fatalf("got class %q priority %v policy %v, want test-default 10 Never", got.Spec.PriorityClassName, got.Spec.Priority, got.Spec.PreemptionPolicy)
	}

	second := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "test-default-2"}, Value: 5, GlobalDefault: true}
	_, err := pcs.Create(t.Context(), second, metav1.CreateOptions{})
	want := `priorityclasses.scheduling.k8s.io "test-default-2" is forbidden: PriorityClass test-default is already marked as default. Only one default can exist`
	if err == nil || err.Error() != want {
		t.Fatalf("second default: error %v, want %q", err, want)
	}
}
