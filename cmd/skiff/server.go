package main

import (
	"fmt"
	"net"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	"github.com/skiff-dev/skiff/server"
)

func newServerCommand() *cobra.Command {
	var (
		dataDir, bindAddress, advertiseAddress, datastore string
		serviceCIDR, clusterCIDR, nodePortRange           string
		kubeconfig, clusterDomain                         string
		port, nodeCIDRMaskSize, hollowNodes               int
		hollowNodePrefix, localStoragePath                string
		disableAgent                                      bool
		controllers                                       []string
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane (and, by default, a node)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := &server.Config{DataDir: dataDir, HTTPSPort: port, DatastoreEndpoint: datastore, ClusterDomain: clusterDomain}
			if cfg.BindAddress = net.ParseIP(bindAddress); cfg.BindAddress == nil {
				return fmt.Errorf("--bind-address %q is not an IP address", bindAddress)
			}
			if advertiseAddress == "" {
				ip, err := utilnet.ResolveBindAddress(cfg.BindAddress)
				if err != nil {
					return fmt.Errorf("finding an address to advertise (set --advertise-address): %w", err)
				}
				cfg.AdvertiseAddress = ip
			} else if cfg.AdvertiseAddress = net.ParseIP(advertiseAddress); cfg.AdvertiseAddress == nil {
				return fmt.Errorf("--advertise-address %q is not an IP address", advertiseAddress)
			}
			var err error
			if _, cfg.ServiceCIDR, err = net.ParseCIDR(serviceCIDR); err != nil {
				return fmt.Errorf("--service-cidr %q: %w", serviceCIDR, err)
			}
			if _, cfg.ClusterCIDR, err = net.ParseCIDR(clusterCIDR); err != nil {
				return fmt.Errorf("--cluster-cidr %q: %w", clusterCIDR, err)
			}
			if cfg.NodePortRange, err = server.ParsePortRange(nodePortRange); err != nil {
				return fmt.Errorf("--service-node-port-range: %w", err)
			}
			if port < 1 || port > 65535 {
				return fmt.Errorf("--https-listen-port %d is not a port number", port)
			}
			cfg.KubeconfigPath = kubeconfig
			cfg.NodeCIDRMaskSize, cfg.HollowNodes, cfg.HollowNodePrefix = nodeCIDRMaskSize, hollowNodes, hollowNodePrefix
			cfg.Controllers = controllers
			cfg.DefaultLocalStoragePath = localStoragePath
			if cfg.KubeconfigPath == "" {
				cfg.KubeconfigPath = server.AdminKubeconfigPath(dataDir)
			}
			_ = disableAgent // The node agent is not part of skiff yet; the server runs the control plane only.

			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			s, err := server.New(ctx, cfg)
			if err != nil {
				return err
			}
			return s.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", server.DefaultDataDir(), "directory for the datastore, certificates and kubeconfig")
	f.StringVar(&bindAddress, "bind-address", "0.0.0.0", "address the API server listens on")
	f.IntVar(&port, "https-listen-port", 6443, "port the API server listens on")
	f.StringVar(&advertiseAddress, "advertise-address", "", "address nodes and clients reach the API server at (default: the host's primary address)")
	f.StringVar(&datastore, "datastore-endpoint", "", "kine endpoint (sqlite://PATH, postgres://..., mysql://...) or etcd URL (http(s)://...); default: SQLite in the data dir")
	f.StringVar(&serviceCIDR, "service-cidr", "10.43.0.0/16", "range Service ClusterIPs are allocated from")
	f.StringVar(&clusterCIDR, "cluster-cidr", "10.42.0.0/16", "range pod IPs are allocated from")
	f.StringVar(&nodePortRange, "service-node-port-range", "30000-32767", "range NodePorts are allocated from")
	f.StringVar(&kubeconfig, "write-kubeconfig", "", "where to write the admin kubeconfig (default: DATA_DIR/kubeconfig.yaml)")
	f.StringVar(&clusterDomain, "cluster-domain", "cluster.local", "DNS domain of the cluster")
	f.IntVar(&nodeCIDRMaskSize, "node-cidr-mask-size", 0, "prefix length of each node's pod CIDR (default 24 for IPv4, 64 for IPv6)")
	f.IntVar(&hollowNodes, "hollow-nodes", 0, "also play this many hollow nodes: nodes whose kubelet runs no containers, for tests and benchmarks (more than 256 need a larger --node-cidr-mask-size or --cluster-cidr)")
	f.StringVar(&hollowNodePrefix, "hollow-node-prefix", "hollow-node-", "name prefix of hollow nodes")
	f.BoolVar(&disableAgent, "disable-agent", false, "run the control plane only, without a node on this host")
	f.StringVar(&localStoragePath, "default-local-storage-path", "", "directory on each node for the volumes of the local-path provisioner (default <data-dir>/storage)")
	f.StringSliceVar(&controllers, "controllers", []string{"*"}, "controllers to run, as kube-controller-manager's --controllers: '*' all, 'foo' enables foo, '-foo' disables it (the scheduler is kube-scheduler)")
	return cmd
}
