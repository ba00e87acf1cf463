package legacysatokencleaner

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
)

const day = 24 * time.Hour

// TestCleanAll runs one pass at a fixed time with a 30-day clean-up period
// over one token secret in each state that matters.
func TestCleanAll(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(dateFormat) }
	const period = 30 * day
	const saUID = "sa-uid"

	type secretOpts struct {
		age          time.Duration
		lastUsed     string
		invalidSince string
		saName       string
		saUID        string
		typ          corev1.SecretType
	}
	tests := []struct {
		name         string
		trackedSince string
		secret       secretOpts
		referenced   bool
		mounted      bool
		// want is "" (left alone), "invalidate" or "delete".
		want string
	}{
		{name: "tracking too recent", trackedSince: date(-10 * day), secret: secretOpts{age: 100 * day}, referenced: true},
		{name: "created recently", trackedSince: date(-100 * day), secret: secretOpts{age: 10 * day}, referenced: true},
		{name: "used recently", trackedSince: date(-100 * day), secret: secretOpts{age: 100 * day, lastUsed: date(-5 * day)}, referenced: true},
		{name: "unused", trackedSince: date(-100 * day), secret: secretOpts{age: 100 * day}, referenced: true, want: "invalidate"},
		{name: "used long ago", trackedSince: date(-100 * day), secret: secretOpts{age: 100 * day, lastUsed: date(-40 * day)}, referenced: true, want: "invalidate"},
		{name: "not a token", trackedSince: date(-100 * day), secret: secretOpts{age: 100 * day, typ: corev1.SecretTypeOpaque}, referenced: true},
		{name: "not referenced by its account", trackedSince: date(-100 * day), secret: secretOpts{age: 100 * day}},
		{name: "another account of the name", trackedSince: date(-100 * day), secret: secretOpts{age: 100 * day, saUID: "other"}, referenced: true},
		{name: "account gone", trackedSince: date(-100 * day), secret: secretOpts{age: 100 * day, saName: "gone"}, referenced: true},
		{name: "mounted by a pod", trackedSince: date(-100 * day), secret: secretOpts{age: 100 * day}, referenced: true, mounted: true},
		{name: "invalid recently", trackedSince: date(-100 * day), secret: secretOpts{age: 100 * day, invalidSince: date(-10 * day)}, referenced: true},
		{name: "invalid for a period", trackedSince: date(-100 * day), secret: secretOpts{age: 100 * day, invalidSince: date(-31 * day)}, referenced: true, want: "delete"},
		{name: "invalid since garbage", trackedSince: date(-100 * day), secret: secretOpts{age: 100 * day, invalidSince: "someday"}, referenced: true, want: "invalidate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.secret
			if o.saName == "" {
				o.saName = "builder"
			}
			if o.saUID == "" {
				o.saUID = saUID
			}
			if o.typ == "" {
				o.typ = corev1.SecretTypeServiceAccountToken
			}
			secret := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{
					Name: "builder-token-abcde", Namespace: "ns", UID: "secret-uid", ResourceVersion: "7",
					CreationTimestamp: metav1.NewTime(now.Add(-o.age)),
					Annotations:       map[string]string{corev1.ServiceAccountNameKey: o.saName, corev1.ServiceAccountUIDKey: o.saUID},
					Labels:            map[string]string{},
				},
				Type: o.typ,
			}
			if o.lastUsed != "" {
				secret.Labels[LastUsedLabelKey] = o.lastUsed
			}
			if o.invalidSince != "" {
				secret.Labels[InvalidSinceLabelKey] = o.invalidSince
			}
			sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "ns", UID: saUID}}
			if tt.referenced {
				sa.Secrets = []corev1.ObjectReference{{Name: secret.Name}}
			}
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
			if tt.mounted {
				pod.Spec.Volumes = []corev1.Volume{{Name: "t", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret.Name}}}}
			}
			tracking := &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: TrackingConfigMap, Namespace: metav1.NamespaceSystem},
				Data:       map[string]string{TrackingSinceKey: tt.trackedSince},
			}
			client := fake.NewClientset(secret, sa, pod, tracking)
			f := informers.NewSharedInformerFactory(client, 0)
			for _, add := range []struct {
				inf cacheAdder
				obj runtime.Object
			}{
				{f.Core().V1().Secrets().Informer().GetIndexer(), secret},
				{f.Core().V1().ServiceAccounts().Informer().GetIndexer(), sa},
				{f.Core().V1().Pods().Informer().GetIndexer(), pod},
			} {
				if err := add.inf.Add(add.obj); err != nil {
					t.Fatal(err)
				}
			}
			c, err := New(client, f.Core().V1().ServiceAccounts(), f.Core().V1().Secrets(), f.Core().V1().Pods(),
				clocktesting.NewFakePassiveClock(now), Options{CleanUpPeriod: period, SyncInterval: day})
			if err != nil {
				t.Fatal(err)
			}
			client.ClearActions()
			if err := c.CleanAll(t.Context()); err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, a := range client.Actions() {
				switch a.GetVerb() {
				case "patch":
					got = "invalidate"
				case "delete":
					got = "delete"
				}
			}
			if got != tt.want {
				t.Fatalf("action %q, want %q (actions %v)", got, tt.want, client.Actions())
			}
			stored, err := client.CoreV1().Secrets("ns").Get(t.Context(), secret.Name, metav1.GetOptions{})
			switch tt.want {
			case "invalidate":
				if err != nil {
					t.Fatal(err)
				}
				if v := stored.Labels[InvalidSinceLabelKey]; v != now.Format(dateFormat) {
					t.Errorf("%s = %q, want today %s", InvalidSinceLabelKey, v, now.Format(dateFormat))
				}
			case "delete":
				if err == nil {
					t.Error("the secret is still there")
				}
			}
		})
	}
}

type cacheAdder interface{ Add(any) error }

// TestNoTracking: without the tracking record nothing is known to be
// unused, so the pass fails and touches nothing.
func TestNoTracking(t *testing.T) {
	client := fake.NewClientset()
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := New(client, f.Core().V1().ServiceAccounts(), f.Core().V1().Secrets(), f.Core().V1().Pods(),
		clocktesting.NewFakePassiveClock(time.Now()), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CleanAll(t.Context()); err == nil {
		t.Error("no error without the tracking ConfigMap")
	}
	if DefaultOptions().CleanUpPeriod != 365*day {
		t.Errorf("default clean-up period %v, want 365 days", DefaultOptions().CleanUpPeriod)
	}
}
