package storage

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apiserver/pkg/registry/rest"
)

// DefaultKubeletPort is the kubelet's HTTPS port when its node does not
// report one.
const DefaultKubeletPort = 10250

// DefaultPreferredAddressTypes is the order in which node addresses are
// tried to reach a kubelet. skiff's nodes may have host names that do not
// resolve, so unlike kube-apiserver's default the IPs come first.
var DefaultPreferredAddressTypes = []corev1.NodeAddressType{
	corev1.NodeInternalIP, corev1.NodeExternalIP,
	corev1.NodeInternalDNS, corev1.NodeExternalDNS, corev1.NodeHostName,
}

// KubeletClientConfig says how the API server reaches kubelets for logs,
// exec, attach, port-forward and node proxying.
type KubeletClientConfig struct {
	// Port is used for nodes that report no kubelet endpoint; 0 means
	// DefaultKubeletPort.
	Port int
	// PreferredAddressTypes orders the node address types to connect to;
	// nil means DefaultPreferredAddressTypes.
	PreferredAddressTypes []corev1.NodeAddressType
	// TLS carries the client certificate the API server presents to
	// kubelets and the roots it verifies them with. Without roots (or with a
	// nil TLS) kubelet certificates are not verified, as in kube-apiserver
	// without --kubelet-certificate-authority.
	TLS *tls.Config
	// Transport, when set, is used as is instead of one built from TLS. It
	// must support connection upgrades (SPDY, WebSocket) for exec and friends.
	Transport http.RoundTripper
}

// ConnectionInfo is where and how to reach one node's kubelet.
type ConnectionInfo struct {
	Scheme   string
	Hostname string
	Port     string
	// Transport verifies the kubelet's certificate as configured;
	// InsecureSkipTLSVerifyTransport never does (logs with
	// insecureSkipTLSVerifyBackend).
	Transport                      http.RoundTripper
	InsecureSkipTLSVerifyTransport http.RoundTripper
	// NodeFeatures are the features the node declares in its status.
	NodeFeatures []string
}

// ConnectionInfoGetter finds the kubelet of a node.
type ConnectionInfoGetter interface {
	GetConnectionInfo(ctx context.Context, nodeName string) (*ConnectionInfo, error)
}

// nodeConnectionInfo reads kubelet endpoints from Node objects.
type nodeConnectionInfo struct {
	nodes        rest.Getter
	port         int
	addressTypes []corev1.NodeAddressType
	transport    http.RoundTripper
	insecure     http.RoundTripper
}

// NewConnectionInfoGetter returns a ConnectionInfoGetter that looks nodes up
// in nodes (the nodes storage) and connects with cfg.
func NewConnectionInfoGetter(nodes rest.Getter, cfg KubeletClientConfig) ConnectionInfoGetter {
	c := &nodeConnectionInfo{nodes: nodes, port: cfg.Port, addressTypes: cfg.PreferredAddressTypes}
	if c.port == 0 {
		c.port = DefaultKubeletPort
	}
	if c.addressTypes == nil {
		c.addressTypes = DefaultPreferredAddressTypes
	}
	var tlsConfig *tls.Config
	if cfg.TLS != nil {
		tlsConfig = cfg.TLS.Clone()
	} else {
		tlsConfig = &tls.Config{}
	}
	if tlsConfig.RootCAs == nil {
		tlsConfig.InsecureSkipVerify = true
	}
	insecure := tlsConfig.Clone()
	insecure.InsecureSkipVerify = true
	c.transport, c.insecure = cfg.Transport, cfg.Transport
	if c.transport == nil {
		c.transport = kubeletTransport(tlsConfig)
		c.insecure = kubeletTransport(insecure)
	}
	return c
}

func kubeletTransport(cfg *tls.Config) http.RoundTripper {
	return utilnet.SetTransportDefaults(&http.Transport{
		TLSClientConfig:     cfg,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 25,
	})
}

func (c *nodeConnectionInfo) GetConnectionInfo(ctx context.Context, nodeName string) (*ConnectionInfo, error) {
	obj, err := c.nodes.Get(ctx, nodeName, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	node, ok := obj.(*corev1.Node)
	if !ok {
		return nil, fmt.Errorf("unexpected object of type %T for node %q", obj, nodeName)
	}
	host, err := preferredAddress(node, c.addressTypes)
	if err != nil {
		return nil, err
	}
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port <= 0 {
		port = c.port
	}
	return &ConnectionInfo{
		Scheme:                         "https",
		Hostname:                       host,
		Port:                           strconv.Itoa(port),
		Transport:                      c.transport,
		InsecureSkipTLSVerifyTransport: c.insecure,
		NodeFeatures:                   node.Status.DeclaredFeatures,
	}, nil
}

func preferredAddress(node *corev1.Node, types []corev1.NodeAddressType) (string, error) {
	for _, t := range types {
		for _, a := range node.Status.Addresses {
			if a.Type == t {
				return a.Address, nil
			}
		}
	}
	return "", fmt.Errorf("no preferred addresses found; known addresses: %v", node.Status.Addresses)
}
