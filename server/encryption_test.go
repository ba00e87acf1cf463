package server

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/internal/testserver"
)

func TestEnsureEncryptionConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cred", encryptionConfigName)
	now := time.Unix(1700000000, 0)
	if err := ensureEncryptionConfig(path, now); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"apiVersion: apiserver.config.k8s.io/v1", "kind: EncryptionConfiguration", "- secrets", "aescbc:", "identity: {}"} {
		if !strings.Contains(string(first), want) {
			t.Errorf("config lacks %q:\n%s", want, first)
		}
	}
	if strings.Index(string(first), "aescbc:") > strings.Index(string(first), "identity: {}") {
		t.Errorf("identity must come after aescbc, or new secrets are stored in the clear:\n%s", first)
	}
	if err := ensureEncryptionConfig(path, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Errorf("second start replaced the key:\n%s\nbecame\n%s", first, second)
	}
	got, err := ActiveEncryptionKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := (EncryptionKey{Provider: "aescbc", Name: "skiff-1700000000"}); got != want {
		t.Errorf("active key = %+v, want %+v", got, want)
	}
}

func TestActiveEncryptionKey(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   EncryptionKey
	}{
		{
			name: "secretbox first",
			config: `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [configmaps]
  providers:
  - aescbc: {keys: [{name: cm, secret: c2VjcmV0}]}
- resources: [secrets]
  providers:
  - secretbox: {keys: [{name: new, secret: c2VjcmV0}, {name: old, secret: c2VjcmV0}]}
  - identity: {}
`,
			want: EncryptionKey{Provider: "secretbox", Name: "new"},
		},
		{
			name: "identity first means not encrypted",
			config: `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - identity: {}
  - aescbc: {keys: [{name: k, secret: c2VjcmV0}]}
`,
			want: EncryptionKey{Provider: "identity"},
		},
		{
			name: "wildcard",
			config: `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: ["*.*"]
  providers:
  - aesgcm: {keys: [{name: all, secret: c2VjcmV0}]}
`,
			want: EncryptionKey{Provider: "aesgcm", Name: "all"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), encryptionConfigName)
			if err := os.WriteFile(path, []byte(tt.config), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ActiveEncryptionKey(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestSecretsEncryptedAtRest checks the datastore itself: a secret's value
// must not be found in the SQLite files, while a config map's is (which
// shows the scan would find it).
func TestSecretsEncryptedAtRest(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	ctx := t.Context()
	cs, err := s.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	const (
		secretValue = "skiff-at-rest-secret-7f3a9c1e5d"
		cmValue     = "skiff-at-rest-configmap-2b8e4d6f0a"
	)
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "at-rest"},
		Data:       map[string][]byte{"password": []byte(secretValue)},
	}
	if _, err := cs.CoreV1().Secrets("default").Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "at-rest"},
		Data:       map[string]string{"value": cmValue},
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	readBack := func(t *testing.T, cs kubernetes.Interface) {
		t.Helper()
		got, err := cs.CoreV1().Secrets("default").Get(ctx, "at-rest", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if v := string(got.Data["password"]); v != secretValue {
			t.Errorf("secret read back as %q, want %q", v, secretValue)
		}
	}
	readBack(t, cs)

	// Read directly after the writes, so the rows may sit in either file.
	var stored []byte
	for _, name := range []string{"state.db", "state.db-wal"} {
		b, err := os.ReadFile(filepath.Join(s.DataDir(), "server", "db", name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		stored = append(stored, b...)
	}
	for _, c := range []struct {
		what string
		data string
		want bool
	}{
		{"config map value", cmValue, true},
		{"secret value", secretValue, false},
		{"base64 secret value", base64.StdEncoding.EncodeToString([]byte(secretValue)), false},
		{"aescbc prefix", "k8s:enc:aescbc:v1:skiff-", true},
	} {
		if got := bytes.Contains(stored, []byte(c.data)); got != c.want {
			t.Errorf("%s %q in the datastore: found=%v, want %v", c.what, c.data, got, c.want)
		}
	}

	cfgPath := EncryptionConfigPath(s.DataDir())
	before, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("restart replaced the encryption configuration")
	}
	cs, err = s.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	readBack(t, cs)
}
