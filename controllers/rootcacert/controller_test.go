package rootcacert

import (
	"context"
	"errors"
	"maps"
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

const testCA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func namespace(name string, phase corev1.NamespacePhase) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}
}

func configMap(ns, name string, data, annotations map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations}, Data: data}
}

var (
	described = map[string]string{DescriptionAnnotation: Description}
	published = map[string]string{DataKey: testCA}
)

func TestSync(t *testing.T) {
	terminating := apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, ConfigMapName, errors.New("namespace is terminating"))
	terminating.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause}}

	tests := []struct {
		name       string
		namespaces []*corev1.Namespace
		configMaps []*corev1.ConfigMap
		createErr  error
		// wantVerb is the one write expected, "" for none.
		wantVerb        string
		wantAnnotations map[string]string
		wantLabels      map[string]string
		wantErr         bool
	}{
		{
			name:            "missing configmap is created",
			namespaces:      []*corev1.Namespace{namespace("ns", corev1.NamespaceActive)},
			configMaps:      []*corev1.ConfigMap{configMap("other", ConfigMapName, published, described)},
			wantVerb:        "create",
			wantAnnotations: described,
		},
		{
			name:       "published configmap is left alone",
			namespaces: []*corev1.Namespace{namespace("ns", corev1.NamespaceActive)},
			configMaps: []*corev1.ConfigMap{configMap("ns", ConfigMapName, published, described)},
		},
		{
			name:       "any description will do",
			namespaces: []*corev1.Namespace{namespace("ns", corev1.NamespaceActive)},
			configMaps: []*corev1.ConfigMap{configMap("ns", ConfigMapName, published, map[string]string{DescriptionAnnotation: "mine"})},
		},
		{
			name:            "changed data is restored",
			namespaces:      []*corev1.Namespace{namespace("ns", corev1.NamespaceActive)},
			configMaps:      []*corev1.ConfigMap{configMap("ns", ConfigMapName, map[string]string{DataKey: "x", "extra": "y"}, described)},
			wantVerb:        "update",
			wantAnnotations: described,
		},
		{
			name:       "missing description is restored, other metadata kept",
			namespaces: []*corev1.Namespace{namespace("ns", corev1.NamespaceActive)},
			configMaps: []*corev1.ConfigMap{func() *corev1.ConfigMap {
				cm := configMap("ns", ConfigMapName, published, map[string]string{"a": "b"})
				cm.Labels = map[string]string{"l": "v"}
				return cm
			}()},
			wantVerb:        "update",
			wantAnnotations: map[string]string{"a": "b", DescriptionAnnotation: Description},
			wantLabels:      map[string]string{"l": "v"},
		},
		{
			name:       "terminating namespace is skipped",
			namespaces: []*corev1.Namespace{namespace("ns", corev1.NamespaceTerminating)},
		},
		{
			name: "missing namespace is nothing to do",
		},
		{
			name:            "namespace turned terminating is success",
			namespaces:      []*corev1.Namespace{namespace("ns", corev1.NamespaceActive)},
			createErr:       terminating,
			wantVerb:        "create",
			wantAnnotations: described,
		},
		{
			name:            "namespace gone is success",
			namespaces:      []*corev1.Namespace{namespace("ns", corev1.NamespaceActive)},
			createErr:       apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "ns"),
			wantVerb:        "create",
			wantAnnotations: described,
		},
		{
			name:            "already exists is retried to check the content",
			namespaces:      []*corev1.Namespace{namespace("ns", corev1.NamespaceActive)},
			createErr:       apierrors.NewAlreadyExists(schema.GroupResource{Resource: "configmaps"}, ConfigMapName),
			wantVerb:        "create",
			wantAnnotations: described,
			wantErr:         true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []runtime.Object
			for _, cm := range tt.configMaps {
				objs = append(objs, cm)
			}
			client := fake.NewClientset(objs...)
			if tt.createErr != nil {
				client.PrependReactor("create", "configmaps", func(clienttesting.Action) (bool, runtime.Object, error) {
					return true, nil, tt.createErr
				})
			}
			factory := informers.NewSharedInformerFactory(client, 0)
			nsInformer, cmInformer := factory.Core().V1().Namespaces(), factory.Core().V1().ConfigMaps()
			c := New(client, nsInformer, cmInformer, []byte(testCA))
			for _, ns := range tt.namespaces {
				if err := nsInformer.Informer().GetIndexer().Add(ns); err != nil {
					t.Fatal(err)
				}
			}
			for _, cm := range tt.configMaps {
				if err := cmInformer.Informer().GetIndexer().Add(cm); err != nil {
					t.Fatal(err)
				}
			}

			err := c.Sync(context.Background(), "ns")
			if (err != nil) != tt.wantErr {
				t.Fatalf("Sync() error = %v, want error %v", err, tt.wantErr)
			}
			actions := client.Actions()
			if tt.wantVerb == "" {
				if len(actions) != 0 {
					t.Fatalf("got actions %v, want none", actions)
				}
				return
			}
			if len(actions) != 1 || actions[0].GetVerb() != tt.wantVerb {
				t.Fatalf("got actions %v, want one %s", actions, tt.wantVerb)
			}
			cm := actions[0].(interface{ GetObject() runtime.Object }).GetObject().(*corev1.ConfigMap)
			if cm.Name != ConfigMapName || cm.Namespace != "ns" {
				t.Errorf("wrote %s/%s, want ns/%s", cm.Namespace, cm.Name, ConfigMapName)
			}
			if !maps.Equal(cm.Data, published) {
				t.Errorf("data = %v, want %v", cm.Data, published)
			}
			if !maps.Equal(cm.Annotations, tt.wantAnnotations) {
				t.Errorf("annotations = %v, want %v", cm.Annotations, tt.wantAnnotations)
			}
			if !maps.Equal(cm.Labels, tt.wantLabels) {
				t.Errorf("labels = %v, want %v", cm.Labels, tt.wantLabels)
			}
		})
	}
}

// TestEvents checks which informer events queue a namespace.
func TestEvents(t *testing.T) {
	tests := []struct {
		name  string
		event func(ns, cm cache.ResourceEventHandler)
		want  []string
	}{
		{
			name:  "namespace added",
			event: func(ns, _ cache.ResourceEventHandler) { ns.OnAdd(namespace("a", corev1.NamespaceActive), false) },
			want:  []string{"a"},
		},
		{
			name: "namespace updated",
			event: func(ns, _ cache.ResourceEventHandler) {
				ns.OnUpdate(namespace("a", ""), namespace("a", corev1.NamespaceActive))
			},
			want: []string{"a"},
		},
		{
			name: "namespace terminating",
			event: func(ns, _ cache.ResourceEventHandler) {
				ns.OnUpdate(namespace("a", corev1.NamespaceActive), namespace("a", corev1.NamespaceTerminating))
			},
		},
		{
			name: "published configmap changed",
			event: func(_, cm cache.ResourceEventHandler) {
				cm.OnUpdate(configMap("b", ConfigMapName, published, described), configMap("b", ConfigMapName, nil, described))
			},
			want: []string{"b"},
		},
		{
			name: "published configmap deleted",
			event: func(_, cm cache.ResourceEventHandler) {
				cm.OnDelete(configMap("b", ConfigMapName, published, described))
			},
			want: []string{"b"},
		},
		{
			name: "published configmap deleted, seen as a tombstone",
			event: func(_, cm cache.ResourceEventHandler) {
				cm.OnDelete(cache.DeletedFinalStateUnknown{Key: "b/" + ConfigMapName, Obj: configMap("b", ConfigMapName, nil, nil)})
			},
			want: []string{"b"},
		},
		{
			name:  "other configmap deleted",
			event: func(_, cm cache.ResourceEventHandler) { cm.OnDelete(configMap("b", "settings", nil, nil)) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			factory := informers.NewSharedInformerFactory(client, 0)
			c := New(client, factory.Core().V1().Namespaces(), factory.Core().V1().ConfigMaps(), []byte(testCA))
			ns := cache.ResourceEventHandlerFuncs{
				AddFunc:    c.enqueueNamespace,
				UpdateFunc: func(_, obj any) { c.enqueueNamespace(obj) },
			}
			cm := cache.ResourceEventHandlerFuncs{
				UpdateFunc: func(_, obj any) { c.enqueueConfigMap(obj) },
				DeleteFunc: c.enqueueConfigMap,
			}
			tt.event(ns, cm)
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

// TestRun checks the whole loop against the fake API: the ConfigMap is
// published, and put back after it is deleted or edited.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset(namespace("ns", corev1.NamespaceActive))
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory.Core().V1().Namespaces(), factory.Core().V1().ConfigMaps(), []byte(testCA))
	factory.Start(ctx.Done())
	go c.Run(ctx, DefaultWorkers)

	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			cm, err := client.CoreV1().ConfigMaps("ns").Get(ctx, ConfigMapName, metav1.GetOptions{})
			if err == nil && cm.Data[DataKey] == testCA {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: configmap not published: %v %v", what, cm, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("after start")
	if err := client.CoreV1().ConfigMaps("ns").Delete(ctx, ConfigMapName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("after deletion")
	edited := configMap("ns", ConfigMapName, map[string]string{DataKey: "not a CA"}, nil)
	if _, err := client.CoreV1().ConfigMaps("ns").Update(ctx, edited, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("after edit")
}
