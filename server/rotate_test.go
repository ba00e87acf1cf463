package server

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/internal/testserver"
)

// TestRotateEncryptionKey rotates the key of a running server while a
// client keeps writing secrets, then restarts the server with only the new
// key: every secret must still read, which it cannot unless rotation
// rewrote it under the new key.
func TestRotateEncryptionKey(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	ctx := t.Context()
	cs, err := s.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	const before = 20
	for i := range before {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("before-%d", i)}, StringData: map[string]string{"v": fmt.Sprint(i)}}
		if _, err := cs.CoreV1().Secrets("default").Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	oldKey, err := ActiveEncryptionKey(EncryptionConfigPath(s.DataDir()))
	if err != nil {
		t.Fatal(err)
	}

	// Writes go on throughout the rotation and none may fail.
	writerCtx, stopWriter := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var written atomic.Int32
	var writeErr atomic.Value
	wg.Go(func() {
		for i := 0; writerCtx.Err() == nil; i++ {
			sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("during-%d", i)}, StringData: map[string]string{"v": fmt.Sprint(i)}}
			if _, err := cs.CoreV1().Secrets("default").Create(writerCtx, sec, metav1.CreateOptions{}); err != nil {
				if writerCtx.Err() == nil {
					writeErr.Store(err)
				}
				return
			}
			written.Add(1)
			time.Sleep(50 * time.Millisecond)
		}
	})
	var steps []string
	res, err := RotateEncryptionKey(ctx, s.DataDir(), cs, time.Now().Add(time.Second), func(msg string) { steps = append(steps, msg) })
	stopWriter()
	wg.Wait()
	if err != nil {
		t.Fatalf("rotate: %v (steps %q)", err, steps)
	}
	if e := writeErr.Load(); e != nil {
		t.Fatalf("a write during the rotation failed: %v", e)
	}
	if res.NewKey == oldKey.Name || len(res.Retired) != 1 || res.Retired[0] != oldKey.Name || res.Reencrypted < before {
		t.Errorf("result %+v, old key %s", res, oldKey.Name)
	}
	active, err := ActiveEncryptionKey(EncryptionConfigPath(s.DataDir()))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := readEncryptionConfig(EncryptionConfigPath(s.DataDir()))
	if err != nil {
		t.Fatal(err)
	}
	if p := *secretsProviders(cfg); active.Name != res.NewKey || len(p[0].AESCBC.Keys) != 1 {
		t.Errorf("configuration after rotation: active %+v, providers %+v", active, p)
	}

	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if cs, err = s.Clientset(); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, cs kubernetes.Interface, name, want string) {
		t.Helper()
		got, err := cs.CoreV1().Secrets("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("secret %s after rotation and restart: %v", name, err)
		}
		if v := string(got.Data["v"]); v != want {
			t.Errorf("secret %s = %q, want %q", name, v, want)
		}
	}
	for i := range before {
		check(t, cs, fmt.Sprintf("before-%d", i), fmt.Sprint(i))
	}
	for i := range int(written.Load()) {
		check(t, cs, fmt.Sprintf("during-%d", i), fmt.Sprint(i))
	}
	var stored []byte
	for _, name := range []string{"state.db", "state.db-wal"} {
		b, err := os.ReadFile(filepath.Join(s.DataDir(), "server", "db", name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		stored = append(stored, b...)
	}
	if !bytes.Contains(stored, []byte("k8s:enc:aescbc:v1:"+res.NewKey+":")) {
		t.Errorf("no value stored under the new key %s", res.NewKey)
	}
}
