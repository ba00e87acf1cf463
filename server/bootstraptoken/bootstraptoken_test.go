package bootstraptoken

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func tokenSecret(mutate func(s *corev1.Secret)) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-abcdef", Namespace: metav1.NamespaceSystem},
		Type:       "bootstrap.kubernetes.io/token",
		Data: map[string][]byte{
			"token-id":                       []byte("abcdef"),
			"token-secret":                   []byte("0123456789abcdef"),
			"usage-bootstrap-authentication": []byte("true"),
			"expiration":                     []byte(now.Add(time.Hour).Format(time.RFC3339)),
			"auth-extra-groups":              []byte("system:bootstrappers:skiff:default-node-token"),
		},
	}
	if mutate != nil {
		mutate(s)
	}
	return s
}

func TestAuthenticateToken(t *testing.T) {
	tests := []struct {
		name   string
		secret *corev1.Secret
		token  string
		want   bool
	}{
		{name: "valid", secret: tokenSecret(nil), token: "abcdef.0123456789abcdef", want: true},
		{name: "wrong secret part", secret: tokenSecret(nil), token: "abcdef.0123456789abcdee"},
		{name: "not a bootstrap token", secret: tokenSecret(nil), token: "some-other-token"},
		{name: "unknown id", secret: tokenSecret(nil), token: "zzzzzz.0123456789abcdef"},
		{name: "expired", token: "abcdef.0123456789abcdef", secret: tokenSecret(func(s *corev1.Secret) {
			s.Data["expiration"] = []byte(now.Add(-time.Second).Format(time.RFC3339))
		})},
		{name: "no expiry", token: "abcdef.0123456789abcdef", want: true, secret: tokenSecret(func(s *corev1.Secret) {
			delete(s.Data, "expiration")
		})},
		{name: "unparsable expiry", token: "abcdef.0123456789abcdef", secret: tokenSecret(func(s *corev1.Secret) {
			s.Data["expiration"] = []byte("tomorrow")
		})},
		{name: "authentication usage missing", token: "abcdef.0123456789abcdef", secret: tokenSecret(func(s *corev1.Secret) {
			delete(s.Data, "usage-bootstrap-authentication")
		})},
		{name: "wrong type", token: "abcdef.0123456789abcdef", secret: tokenSecret(func(s *corev1.Secret) {
			s.Type = corev1.SecretTypeOpaque
		})},
		{name: "being deleted", token: "abcdef.0123456789abcdef", secret: tokenSecret(func(s *corev1.Secret) {
			s.DeletionTimestamp = &metav1.Time{Time: now}
		})},
		{name: "id key mismatch", token: "abcdef.0123456789abcdef", secret: tokenSecret(func(s *corev1.Secret) {
			s.Data["token-id"] = []byte("abcdeg")
		})},
		{name: "bad extra group", token: "abcdef.0123456789abcdef", secret: tokenSecret(func(s *corev1.Secret) {
			s.Data["auth-extra-groups"] = []byte("system:masters")
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
			if err := indexer.Add(tt.secret); err != nil {
				t.Fatal(err)
			}
			a := NewAuthenticator()
			a.now = func() time.Time { return now }
			l := corelisters.NewSecretLister(indexer).Secrets(metav1.NamespaceSystem)
			a.secrets.Store(&l)
			resp, ok, err := a.AuthenticateToken(context.Background(), tt.token)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.want {
				t.Fatalf("authenticated = %v, want %v", ok, tt.want)
			}
			if !ok {
				return
			}
			if got := resp.User.GetName(); got != "system:bootstrap:abcdef" {
				t.Errorf("user = %q", got)
			}
			if got, want := resp.User.GetGroups(), []string{"system:bootstrappers", "system:bootstrappers:skiff:default-node-token"}; !slices.Equal(got, want) {
				t.Errorf("groups = %v, want %v", got, want)
			}
		})
	}
}

func TestAuthenticatorBeforeInformers(t *testing.T) {
	_, ok, err := NewAuthenticator().AuthenticateToken(context.Background(), "abcdef.0123456789abcdef")
	if ok || err != nil {
		t.Fatalf("got ok=%v err=%v, want an unknown token", ok, err)
	}
}

func TestCreateListDelete(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-zzzzzz", Namespace: metav1.NamespaceSystem},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"token-id": []byte("zzzzzz")}})
	created, err := Create(ctx, client, Options{TTL: time.Hour, Description: "for node a", Usages: DefaultUsages, Groups: []string{DefaultGroup}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(created.String(), ".") || created.Expires != now.Add(time.Hour) {
		t.Fatalf("created %+v", created)
	}
	fixed, err := Create(ctx, client, Options{Token: "abcdef.0123456789abcdef", Usages: []string{"signing"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	s, err := client.CoreV1().Secrets(metav1.NamespaceSystem).Get(ctx, "bootstrap-token-abcdef", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Data["expiration"]; ok || string(s.Data["usage-bootstrap-signing"]) != "true" || s.Type != "bootstrap.kubernetes.io/token" {
		t.Errorf("stored secret %+v", s)
	}
	if _, err := Create(ctx, client, Options{Token: "abcdef.0123456789abcdef"}, now); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate create: %v", err)
	}

	list, err := List(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tok := range list {
		got = append(got, tok.String())
	}
	want := []string{fixed.String(), created.String()}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v (the opaque secret is no token)", got, want)
	}
	if list[slices.IndexFunc(list, func(tok Token) bool { return tok.ID == created.ID })].Description != "for node a" {
		t.Errorf("description lost: %+v", list)
	}

	if id, err := Delete(ctx, client, fixed.String()); err != nil || id != "abcdef" {
		t.Fatalf("delete by token: %q %v", id, err)
	}
	if id, err := Delete(ctx, client, created.ID); err != nil || id != created.ID {
		t.Fatalf("delete by id: %q %v", id, err)
	}
	if _, err := Delete(ctx, client, created.ID); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("second delete: %v", err)
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"malformed token", Options{Token: "ABCDEF.0123456789abcdef", Usages: DefaultUsages}, "is not of the form"},
		{"negative ttl", Options{TTL: -time.Second, Usages: DefaultUsages}, "must not be negative"},
		{"unknown usage", Options{Usages: []string{"sudo"}}, "invalid bootstrap token usage string: sudo"},
		{"bad group", Options{Usages: DefaultUsages, Groups: []string{"system:masters"}}, `bootstrap group "system:masters" is invalid`},
		{"groups without authentication", Options{Usages: []string{"signing"}, Groups: []string{DefaultGroup}}, "need the authentication usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Create(context.Background(), fake.NewClientset(), tt.o, now)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
