package testserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/keyutil"
)

// UserConfig returns a client config that authenticates as user with the
// given groups through a client certificate signed by the server's CA, the
// way a real user or node holds its credentials (unlike impersonation, the
// server sees no admin behind the request).
func (s *Server) UserConfig(user string, groups ...string) (*rest.Config, error) {
	tlsDir := filepath.Join(s.DataDir(), "server", "tls")
	caPEM, err := os.ReadFile(filepath.Join(tlsDir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("reading the server's CA: %w", err)
	}
	block, _ := pem.Decode(caPEM)
	if block == nil {
		return nil, fmt.Errorf("no certificate in %s", filepath.Join(tlsDir, "ca.crt"))
	}
	caCert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the server's CA: %w", err)
	}
	caKey, err := keyutil.PrivateKeyFromFile(filepath.Join(tlsDir, "ca.key"))
	if err != nil {
		return nil, fmt.Errorf("reading the server's CA key: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: user, Organization: groups},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("signing a client certificate for %s: %w", user, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	admin, err := s.RESTConfig()
	if err != nil {
		return nil, err
	}
	cfg := rest.AnonymousClientConfig(admin)
	cfg.CAData = caPEM
	cfg.CAFile = ""
	cfg.CertData = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	cfg.KeyData = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	return cfg, nil
}

// UserClientset is UserConfig as a typed client.
func (s *Server) UserClientset(user string, groups ...string) (*kubernetes.Clientset, error) {
	cfg, err := s.UserConfig(user, groups...)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// TokenConfig returns a client config that authenticates with a bearer token
// only.
func (s *Server) TokenConfig(token string) (*rest.Config, error) {
	admin, err := s.RESTConfig()
	if err != nil {
		return nil, err
	}
	cfg := rest.AnonymousClientConfig(admin)
	cfg.BearerToken = token
	return cfg, nil
}
