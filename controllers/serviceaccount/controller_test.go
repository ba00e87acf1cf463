package serviceaccount

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

func namespace(name string, phase corev1.NamespacePhase) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}
}

func account(ns, name string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func TestSync(t *testing.T) {
	terminating := apierrors.NewForbidden(schema.GroupResource{Resource: "serviceaccounts"}, DefaultName, errors.New("namespace is terminating"))
	terminating.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause}}

	tests := []struct {
		name       string
		namespaces []*corev1.Namespace
		accounts   []*corev1.ServiceAccount
		createErr  error
		wantCreate bool
		wantErr    bool
	}{
		{
			name:       "active namespace without default gets one",
			namespaces: []*corev1.Namespace{namespace("ns", corev1.NamespaceActive)},
			wantCreate: true,
		},
		{
			name:       "other accounts do not count",
			namespaces: []*corev1.Namespace{namespace("ns", corev1.NamespaceActive)},
			accounts:   []*corev1.ServiceAccount{account("ns", "builder"), account("other", DefaultName)},
			wantCreate: true,
		},
		{
			name:       "existing default is left alone",
			namespaces: []*corev1.Namespace{namespace("ns", corev1.NamespaceActive)},
			accounts:   []*corev1.ServiceAccount{account("ns", DefaultName)},
		},
		{
			name:       "terminating namespace is skipped",
			namespaces: []*corev1.Namespace{namespace("ns", corev1.NamespaceTerminating)},
		},
		{
			name: "namespace without a phase yet is skipped",
			// The update that sets the phase queues it again.
			namespaces: []*corev1.Namespace{namespace("ns", "")},
		},
		{
			name: "missing namespace is nothing to do",
		},
		{
			name:       "already exists is success",
			namespaces: []*corev1.Namespace{namespace("ns", corev1.NamespaceActive)},
			createErr:  apierrors.NewAlreadyExists(schema.GroupResource{Resource: "serviceaccounts"}, DefaultName),
			wantCreate: true,
		},
		{
			name:       "namespace turned terminating is success",
			namespaces: []*corev1.Namespace{namespace("ns", corev1.NamespaceActive)},
			createErr:  terminating,
			wantCreate: true,
		},
		{
			name:       "other create errors are retried",
			namespaces: []*corev1.Namespace{namespace("ns", corev1.NamespaceActive)},
			createErr:  apierrors.NewServiceUnavailable("try later"),
			wantCreate: true,
			wantErr:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			if tt.createErr != nil {
				client.PrependReactor("create", "serviceaccounts", func(clienttesting.Action) (bool, runtime.Object, error) {
					return true, nil, tt.createErr
				})
			}
			factory := informers.NewSharedInformerFactory(client, 0)
			nsInformer, saInformer := factory.Core().V1().Namespaces(), factory.Core().V1().ServiceAccounts()
			c := New(client, nsInformer, saInformer)
			for _, ns := range tt.namespaces {
				if err := nsInformer.Informer().GetIndexer().Add(ns); err != nil {
					t.Fatal(err)
				}
			}
			for _, sa := range tt.accounts {
				if err := saInformer.Informer().GetIndexer().Add(sa); err != nil {
					t.Fatal(err)
				}
			}

			err := c.Sync(context.Background(), "ns")
			if (err != nil) != tt.wantErr {
				t.Fatalf("Sync() error = %v, want error %v", err, tt.wantErr)
			}
			var created []*corev1.ServiceAccount
			for _, a := range client.Actions() {
				if a.GetVerb() != "create" {
					t.Errorf("unexpected action %s %s", a.GetVerb(), a.GetResource().Resource)
					continue
				}
				sa := a.(clienttesting.CreateAction).GetObject().(*corev1.ServiceAccount)
				created = append(created, sa)
			}
			if got := len(created) == 1; got != tt.wantCreate || len(created) > 1 {
				t.Fatalf("created %d service accounts, want create %v", len(created), tt.wantCreate)
			}
			if tt.wantCreate && (created[0].Name != DefaultName || created[0].Namespace != "ns") {
				t.Errorf("created %s/%s, want ns/%s", created[0].Namespace, created[0].Name, DefaultName)
			}
		})
	}
}

// TestEvents checks which informer events queue a namespace.
func TestEvents(t *testing.T) {
	tests := []struct {
		name  string
		event func(h cache.ResourceEventHandler)
		want  []string
	}{
		{
			name:  "namespace added",
			event: func(h cache.ResourceEventHandler) { h.OnAdd(namespace("a", corev1.NamespaceActive), false) },
			want:  []string{"a"},
		},
		{
			name: "namespace updated",
			event: func(h cache.ResourceEventHandler) {
				h.OnUpdate(namespace("a", ""), namespace("a", corev1.NamespaceActive))
			},
			want: []string{"a"},
		},
		{
			name:  "default account deleted",
			event: func(h cache.ResourceEventHandler) { h.OnDelete(account("b", DefaultName)) },
			want:  []string{"b"},
		},
		{
			name: "default account deleted, seen as a tombstone",
			event: func(h cache.ResourceEventHandler) {
				h.OnDelete(cache.DeletedFinalStateUnknown{Key: "b/default", Obj: account("b", DefaultName)})
			},
			want: []string{"b"},
		},
		{
			name:  "other account deleted",
			event: func(h cache.ResourceEventHandler) { h.OnDelete(account("b", "builder")) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			factory := informers.NewSharedInformerFactory(client, 0)
			c := New(client, factory.Core().V1().Namespaces(), factory.Core().V1().ServiceAccounts())
			h := cache.ResourceEventHandlerFuncs{
				AddFunc:    c.enqueueNamespace,
				UpdateFunc: func(_, obj any) { c.enqueueNamespace(obj) },
				DeleteFunc: c.accountDeleted,
			}
			tt.event(h)
			var got []string
			for c.queue.Len() > 0 {
				key, _ := c.queue.Get()
				got = append(got, key)
				c.queue.Done(key)
			}
			if len(got) != len(tt.want) || (len(got) == 1 && got[0] != tt.want[0]) {
				t.Errorf("queued %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRun checks the whole loop against the fake API: a namespace gets its
// account, and gets it back after a deletion.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset(namespace("ns", corev1.NamespaceActive))
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory.Core().V1().Namespaces(), factory.Core().V1().ServiceAccounts())
	factory.Start(ctx.Done())
	go c.Run(ctx, DefaultWorkers)

	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := client.CoreV1().ServiceAccounts("ns").Get(ctx, DefaultName, metav1.GetOptions{})
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no default service account: %v", what, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("after start")
	if err := client.CoreV1().ServiceAccounts("ns").Delete(ctx, DefaultName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("after deletion")
}
