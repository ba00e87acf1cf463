package serviceaccounttoken

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

type fakeTokens struct{}

func (fakeTokens) GenerateLegacyToken(sa *corev1.ServiceAccount, secret *corev1.Secret) (string, error) {
	return "token-for-" + sa.Name + "-" + string(sa.UID) + "-" + secret.Name, nil
}

var rootCA = []byte("-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n")

func account(name, uid string, secrets ...string) *corev1.ServiceAccount {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid)}}
	for _, s := range secrets {
		sa.Secrets = append(sa.Secrets, corev1.ObjectReference{Name: s})
	}
	return sa
}

func tokenSecret(name, uid, saName, saUID string, data map[string][]byte) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid), ResourceVersion: "1",
			Annotations: map[string]string{corev1.ServiceAccountNameKey: saName}},
		Type: corev1.SecretTypeServiceAccountToken,
		Data: data,
	}
	if saUID != "" {
		s.Annotations[corev1.ServiceAccountUIDKey] = saUID
	}
	return s
}

// newController returns a controller whose caches hold objs, and the fake
// client behind it.
func newController(t *testing.T, objs ...runtime.Object) (*Controller, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory.Core().V1().ServiceAccounts(), factory.Core().V1().Secrets(), fakeTokens{}, rootCA)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return c, client
}

func TestSyncSecret(t *testing.T) {
	tests := []struct {
		name  string
		objs  []runtime.Object
		key   string
		check func(t *testing.T, client *fake.Clientset)
	}{
		{
			name: "empty token secret is filled",
			objs: []runtime.Object{account("sa", "sa-uid"), tokenSecret("tok", "s-uid", "sa", "", nil)},
			key:  "ns/tok/s-uid/sa/",
			check: func(t *testing.T, client *fake.Clientset) {
				s := getSecret(t, client, "tok")
				if s == nil {
					t.Fatal("secret is gone")
				}
				want := map[string]string{
					"token":     "token-for-sa-sa-uid-tok",
					"ca.crt":    string(rootCA),
					"namespace": "ns",
				}
				for k, v := range want {
					if string(s.Data[k]) != v {
						t.Errorf("data[%s] = %q, want %q", k, s.Data[k], v)
					}
				}
				if s.Annotations[corev1.ServiceAccountUIDKey] != "sa-uid" {
					t.Errorf("annotations = %v", s.Annotations)
				}
			},
		},
		{
			name: "existing token is kept, missing ca.crt added",
			objs: []runtime.Object{account("sa", "sa-uid"), tokenSecret("tok", "s-uid", "sa", "sa-uid", map[string][]byte{"token": []byte("mine"), "namespace": []byte("ns")})},
			key:  "ns/tok/s-uid/sa/sa-uid",
			check: func(t *testing.T, client *fake.Clientset) {
				s := getSecret(t, client, "tok")
				if string(s.Data["token"]) != "mine" || string(s.Data["ca.crt"]) != string(rootCA) {
					t.Errorf("data = %v", s.Data)
				}
			},
		},
		{
			name: "secret of a missing service account is deleted",
			objs: []runtime.Object{tokenSecret("tok", "s-uid", "sa", "", nil)},
			key:  "ns/tok/s-uid/sa/",
			check: func(t *testing.T, client *fake.Clientset) {
				if getSecret(t, client, "tok") != nil {
					t.Error("secret still exists")
				}
			},
		},
		{
			name: "secret of a recreated service account is deleted",
			objs: []runtime.Object{account("sa", "new-uid"), tokenSecret("tok", "s-uid", "sa", "old-uid", map[string][]byte{"token": []byte("old")})},
			key:  "ns/tok/s-uid/sa/old-uid",
			check: func(t *testing.T, client *fake.Clientset) {
				if getSecret(t, client, "tok") != nil {
					t.Error("secret still exists")
				}
			},
		},
		{
			name: "deleted secret is dropped from its service account",
			objs: []runtime.Object{account("sa", "sa-uid", "keep", "tok")},
			key:  "ns/tok/s-uid/sa/sa-uid",
			check: func(t *testing.T, client *fake.Clientset) {
				sa, err := client.CoreV1().ServiceAccounts("ns").Get(context.Background(), "sa", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if len(sa.Secrets) != 1 || sa.Secrets[0].Name != "keep" {
					t.Errorf("secrets = %v, want only keep", sa.Secrets)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, client := newController(t, tt.objs...)
			if err := c.SyncSecret(context.Background(), tt.key); err != nil {
				t.Fatal(err)
			}
			tt.check(t, client)
		})
	}
}

func TestSyncServiceAccountDeletesTokens(t *testing.T) {
	c, client := newController(t,
		tokenSecret("mine", "1", "gone", "gone-uid", nil),
		tokenSecret("mine-no-uid", "2", "gone", "", nil),
		tokenSecret("other-incarnation", "3", "gone", "other-uid", nil),
		tokenSecret("other-account", "4", "kept", "", nil),
	)
	if err := c.SyncServiceAccount(context.Background(), "ns/gone/gone-uid"); err != nil {
		t.Fatal(err)
	}
	for name, wantGone := range map[string]bool{"mine": true, "mine-no-uid": true, "other-incarnation": false, "other-account": false} {
		if gone := getSecret(t, client, name) == nil; gone != wantGone {
			t.Errorf("secret %s deleted = %v, want %v", name, gone, wantGone)
		}
	}
}

func getSecret(t *testing.T, client *fake.Clientset, name string) *corev1.Secret {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := client.CoreV1().Secrets("ns").Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}
