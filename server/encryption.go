package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"sigs.k8s.io/yaml"
)

// encryptionConfigName is the file under <data-dir>/server/cred that
// holds the EncryptionConfiguration the API server encrypts secrets with.
const encryptionConfigName = "encryption-config.yaml"

// credDir holds secrets of the control plane itself, such as the
// datastore encryption keys.
func (c *Config) credDir() string { return filepath.Join(c.DataDir, "server", "cred") }

// EncryptionConfigPath is where `skiff server` keeps its
// EncryptionConfiguration for the given data dir.
func EncryptionConfigPath(dataDir string) string {
	return filepath.Join(dataDir, "server", "cred", encryptionConfigName)
}

// EncryptionKey describes the key the API server writes new objects with.
type EncryptionKey struct {
	// Provider is the provider type: aescbc, secretbox, aesgcm or identity.
	Provider string
	// Name is the key's name, part of every stored value's prefix.
	Name string
}

// ensureEncryptionConfig writes a fresh EncryptionConfiguration on first
// start and otherwise leaves the existing one alone: replacing the key
// would make every secret already in the datastore unreadable.
func ensureEncryptionConfig(path string, now time.Time) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	data, err := newEncryptionConfig(now)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data, 0o600)
}

// newEncryptionConfig returns an EncryptionConfiguration for secrets with
// one new aescbc key. The identity provider comes last so that secrets
// stored before encryption was on (or by another distribution using the
// same datastore) still read; they are rewritten encrypted on update.
func newEncryptionConfig(now time.Time) ([]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generating an encryption key: %w", err)
	}
	cfg := apiserverv1.EncryptionConfiguration{
		Resources: []apiserverv1.ResourceConfiguration{{
			Resources: []string{"secrets"},
			Providers: []apiserverv1.ProviderConfiguration{
				{AESCBC: &apiserverv1.AESConfiguration{Keys: []apiserverv1.Key{{
					Name:   fmt.Sprintf("skiff-%d", now.Unix()),
					Secret: base64.StdEncoding.EncodeToString(key),
				}}}},
				{Identity: &apiserverv1.IdentityConfiguration{}},
			},
		}},
	}
	cfg.APIVersion = apiserverv1.SchemeGroupVersion.String()
	cfg.Kind = "EncryptionConfiguration"
	data, err := yaml.Marshal(&cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding the encryption configuration: %w", err)
	}
	return data, nil
}

// ActiveEncryptionKey reads the EncryptionConfiguration at path and
// returns the key secrets are written with: the first key of the first
// provider that applies to secrets.
func ActiveEncryptionKey(path string) (EncryptionKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return EncryptionKey{}, fmt.Errorf("reading the encryption configuration: %w", err)
	}
	var cfg apiserverv1.EncryptionConfiguration
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return EncryptionKey{}, fmt.Errorf("parsing %s: %w", path, err)
	}
	for _, rc := range cfg.Resources {
		for _, r := range rc.Resources {
			if r != "secrets" && r != "*.*" && r != "*." {
				continue
			}
			if len(rc.Providers) == 0 {
				break
			}
			return firstKey(rc.Providers[0]), nil
		}
	}
	return EncryptionKey{Provider: "identity"}, nil
}

func firstKey(p apiserverv1.ProviderConfiguration) EncryptionKey {
	named := func(provider string, keys []apiserverv1.Key) EncryptionKey {
		k := EncryptionKey{Provider: provider}
		if len(keys) > 0 {
			k.Name = keys[0].Name
		}
		return k
	}
	switch {
	case p.AESCBC != nil:
		return named("aescbc", p.AESCBC.Keys)
	case p.AESGCM != nil:
		return named("aesgcm", p.AESGCM.Keys)
	case p.Secretbox != nil:
		return named("secretbox", p.Secretbox.Keys)
	case p.KMS != nil:
		return EncryptionKey{Provider: "kms", Name: p.KMS.Name}
	default:
		return EncryptionKey{Provider: "identity"}
	}
}
