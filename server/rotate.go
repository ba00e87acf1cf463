package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"
)

// encryptionReloadInterval is how often the API server looks for a changed
// EncryptionConfiguration; upstream's default of a minute would make a
// rotation wait two minutes for nothing.
const encryptionReloadInterval = 2 * time.Second

// RotationResult says what RotateEncryptionKey did.
type RotationResult struct {
	// NewKey is the key secrets are now written with.
	NewKey string
	// Retired are the keys no longer in the configuration.
	Retired []string
	// Reencrypted counts the secrets rewritten with the new key.
	Reencrypted int
}

// RotateEncryptionKey replaces the key that encrypts secrets in the
// datastore while the server keeps serving: it adds a new key in front of
// the old ones, waits for the running server to load it, rewrites every
// secret through the API (so each is stored under the new key), and only
// then drops the old keys. Interrupted at any point, every secret stays
// readable, and running it again finishes the job.
func RotateEncryptionKey(ctx context.Context, dataDir string, client kubernetes.Interface, now time.Time, progress func(string)) (RotationResult, error) {
	path := EncryptionConfigPath(dataDir)
	cfg, err := readEncryptionConfig(path)
	if err != nil {
		return RotationResult{}, err
	}
	secrets := secretsProviders(cfg)
	if secrets == nil {
		return RotationResult{}, fmt.Errorf("%s has no providers for secrets", path)
	}
	var old []apiserverv1.Key
	for _, p := range *secrets {
		if p.AESCBC != nil {
			old = append(old, p.AESCBC.Keys...)
		}
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return RotationResult{}, fmt.Errorf("generating an encryption key: %w", err)
	}
	name := fmt.Sprintf("skiff-%d", now.Unix())
	for n := 1; slices.ContainsFunc(old, func(k apiserverv1.Key) bool { return k.Name == name }); n++ {
		name = fmt.Sprintf("skiff-%d-%d", now.Unix(), n)
	}
	newKey := apiserverv1.Key{Name: name, Secret: base64.StdEncoding.EncodeToString(key)}
	result := RotationResult{NewKey: name}
	for _, k := range old {
		result.Retired = append(result.Retired, k.Name)
	}

	// Stage 1: write with the new key, still read with every old one. Other
	// providers (identity for data stored before encryption, any others an
	// administrator added) stay after aescbc, so that data keeps reading.
	rest := slices.DeleteFunc(slices.Clone(*secrets), func(p apiserverv1.ProviderConfiguration) bool { return p.AESCBC != nil })
	*secrets = append([]apiserverv1.ProviderConfiguration{{AESCBC: &apiserverv1.AESConfiguration{Keys: append([]apiserverv1.Key{newKey}, old...)}}}, rest...)
	if err := writeAndAwaitEncryptionConfig(ctx, path, cfg, client); err != nil {
		return result, err
	}
	progress(fmt.Sprintf("The server writes secrets with key %s", name))

	// Stage 2: rewrite every secret. An update that changes nothing still
	// writes when the stored value was read with a key other than the
	// first, which is exactly what moves it to the new key.
	if result.Reencrypted, err = reencryptSecrets(ctx, client); err != nil {
		return result, err
	}
	progress(fmt.Sprintf("Re-encrypted %d secrets", result.Reencrypted))

	// Stage 3: nothing needs the old keys any more.
	for i, p := range *secrets {
		if p.AESCBC != nil {
			(*secrets)[i].AESCBC.Keys = []apiserverv1.Key{newKey}
		}
	}
	if err := writeAndAwaitEncryptionConfig(ctx, path, cfg, client); err != nil {
		return result, err
	}
	return result, nil
}

func readEncryptionConfig(path string) (*apiserverv1.EncryptionConfiguration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the encryption configuration: %w", err)
	}
	var cfg apiserverv1.EncryptionConfiguration
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return &cfg, nil
}

// secretsProviders points at the provider list that applies to secrets.
func secretsProviders(cfg *apiserverv1.EncryptionConfiguration) *[]apiserverv1.ProviderConfiguration {
	for i := range cfg.Resources {
		for _, r := range cfg.Resources[i].Resources {
			if r == "secrets" || r == "*." || r == "*.*" {
				return &cfg.Resources[i].Providers
			}
		}
	}
	return nil
}

// writeAndAwaitEncryptionConfig replaces the configuration file and waits
// until the running API server reports having loaded exactly this content.
func writeAndAwaitEncryptionConfig(ctx context.Context, path string, cfg *apiserverv1.EncryptionConfiguration, client kubernetes.Interface) error {
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encoding the encryption configuration: %w", err)
	}
	if err := writeFileAtomic(path, data, 0o600); err != nil {
		return err
	}
	want := fmt.Sprintf("sha256:%x", sha256.Sum256(data))
	var last error
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		hashes, err := loadedEncryptionConfigHashes(ctx, client)
		last = err
		return err == nil && slices.Contains(hashes, want), nil
	})
	if err != nil {
		if last != nil {
			return fmt.Errorf("waiting for the server to load %s: %w", path, last)
		}
		return fmt.Errorf("the server did not load the new %s within 2 minutes; is `skiff server` running on this data dir?", path)
	}
	return nil
}

// loadedEncryptionConfigHashes reads from the API server's metrics the
// hash of the encryption configuration it runs with.
func loadedEncryptionConfigHashes(ctx context.Context, client kubernetes.Interface) ([]string, error) {
	body, err := client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the server's metrics: %w", err)
	}
	const metric = "apiserver_encryption_config_controller_last_config_info{"
	var hashes []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric) {
			continue
		}
		// The label hash="..." follows apiserver_id_hash="...", which
		// also ends in hash=".
		if _, after, ok := strings.Cut(line, `,hash="`); ok {
			if h, _, ok := strings.Cut(after, `"`); ok {
				hashes = append(hashes, h)
			}
		}
	}
	return hashes, sc.Err()
}

// reencryptSecrets rewrites every secret unchanged, page by page.
func reencryptSecrets(ctx context.Context, client kubernetes.Interface) (int, error) {
	n := 0
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := client.CoreV1().Secrets(metav1.NamespaceAll).List(ctx, opts)
		if err != nil {
			return n, fmt.Errorf("listing secrets: %w", err)
		}
		for i := range list.Items {
			if err := rewriteSecret(ctx, client, &list.Items[i]); err != nil {
				return n, err
			}
			n++
		}
		if list.Continue == "" {
			return n, nil
		}
		opts.Continue = list.Continue
	}
}

func rewriteSecret(ctx context.Context, client kubernetes.Interface, s *corev1.Secret) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		_, err := client.CoreV1().Secrets(s.Namespace).Update(ctx, s, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			// Someone wrote it meanwhile, which also stored it under
			// the new key; rewrite the current version all the same.
			cur, getErr := client.CoreV1().Secrets(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
			if getErr != nil {
				return getErr
			}
			s = cur
		}
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("re-encrypting secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}
