package server

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// Config is everything `skiff server` needs to start the control plane.
type Config struct {
	// DataDir holds the datastore, certificates and kubeconfig.
	DataDir string
	// BindAddress is the address the API server listens on.
	BindAddress net.IP
	// HTTPSPort is the API server's port.
	HTTPSPort int
	// AdvertiseAddress is the address clients and nodes reach the API server at.
	AdvertiseAddress net.IP
	// DatastoreEndpoint is a kine endpoint (sqlite://, postgres://, mysql://)
	// or an etcd URL; empty means SQLite under DataDir.
	DatastoreEndpoint string
	ServiceCIDR       *net.IPNet
	ClusterCIDR       *net.IPNet
	// NodePortRange is the inclusive range NodePorts are allocated from.
	NodePortRange PortRange
	// KubeconfigPath is where the admin kubeconfig is written.
	KubeconfigPath string
	// ClusterDomain is the DNS domain of the cluster.
	ClusterDomain string
	// NodeCIDRMaskSize is the prefix length of each node's pod CIDR; zero
	// is kube-controller-manager's default (24 for IPv4, 64 for IPv6).
	NodeCIDRMaskSize int
	// HollowNodes is how many hollow nodes (a kubelet that runs no
	// containers, for tests and benchmarks) the server plays.
	HollowNodes int
	// HollowNodePrefix names the hollow nodes; empty is "hollow-node-".
	HollowNodePrefix string
	// Controllers says which controllers run, as kube-controller-manager's
	// --controllers: "*" all, "foo" enables foo, "-foo" disables it; empty
	// means "*".
	Controllers []string
	// DefaultLocalStoragePath holds the local-path provisioner's volumes on
	// every node; empty is <data-dir>/storage.
	DefaultLocalStoragePath string
}

// PortRange is an inclusive range of ports.
type PortRange struct{ Base, Size int }

// ParsePortRange parses "30000-32767".
func ParsePortRange(s string) (PortRange, error) {
	var lo, hi int
	if _, err := fmt.Sscanf(s, "%d-%d", &lo, &hi); err != nil || lo < 1 || hi > 65535 || lo > hi {
		return PortRange{}, fmt.Errorf("invalid port range %q: want LOW-HIGH, such as 30000-32767", s)
	}
	return PortRange{Base: lo, Size: hi - lo + 1}, nil
}

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.Base, r.Base+r.Size-1) }

// DefaultDataDir is /var/lib/skiff for root and ~/.skiff for anyone else.
func DefaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/skiff"
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".skiff")
	}
	return ".skiff"
}

func (c *Config) tlsDir() string { return filepath.Join(c.DataDir, "server", "tls") }
func (c *Config) dbDir() string  { return filepath.Join(c.DataDir, "server", "db") }
func (c *Config) runDir() string { return filepath.Join(c.DataDir, "server", "run") }

// AdminKubeconfigPath is where the admin kubeconfig lives by default.
func AdminKubeconfigPath(dataDir string) string { return filepath.Join(dataDir, "kubeconfig.yaml") }

// kubernetesServiceIP is the first address of the service CIDR, which the
// `kubernetes` Service in `default` always gets.
func kubernetesServiceIP(cidr *net.IPNet) (net.IP, error) {
	ip := make(net.IP, len(cidr.IP))
	copy(ip, cidr.IP)
	for i := len(ip) - 1; i >= 0; i-- {
		ip[i]++
		if ip[i] != 0 {
			break
		}
	}
	if !cidr.Contains(ip) {
		return nil, fmt.Errorf("service CIDR %s is too small", cidr)
	}
	return ip, nil
}
