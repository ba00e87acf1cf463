package server

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// adminUser is the identity of the admin kubeconfig; its group bypasses
// authorization, as a cluster admin's does on Kubernetes.
const adminUser = "system:admin"

// writeAdminKubeconfig writes a kubeconfig with a client certificate in the
// system:masters group to cfg.KubeconfigPath, mode 0600.
func writeAdminKubeconfig(cfg *Config, ca *CA) error {
	certPath, keyPath, err := ca.EnsureCert(cfg.tlsDir(), "client-admin", CertSpec{
		CommonName: adminUser, Organization: []string{"system:masters"}, Client: true,
	})
	if err != nil {
		return err
	}
	cert, err := os.ReadFile(certPath)
	if err != nil {
		return err
	}
	key, err := os.ReadFile(keyPath)
	if err != nil {
		return err
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["default"] = &clientcmdapi.Cluster{Server: serverURL(cfg), CertificateAuthorityData: ca.CertPEM}
	kc.AuthInfos["default"] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	kc.Contexts["default"] = &clientcmdapi.Context{Cluster: "default", AuthInfo: "default"}
	kc.CurrentContext = "default"
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return fmt.Errorf("encoding kubeconfig: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.KubeconfigPath), 0o755); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	return writeFileAtomic(cfg.KubeconfigPath, data, 0o600)
}

// serverURL is the API server address the admin kubeconfig uses: loopback
// when the server listens there, else the advertise address.
func serverURL(cfg *Config) string {
	host := "127.0.0.1"
	if b := cfg.BindAddress; b != nil && !b.IsUnspecified() && !b.IsLoopback() {
		host = b.String()
	}
	return "https://" + net.JoinHostPort(host, strconv.Itoa(cfg.HTTPSPort))
}
