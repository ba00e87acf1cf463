package server

import (
	"fmt"
	"net"

	"k8s.io/apiserver/pkg/authentication/user"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/rest"

	"github.com/skiff-dev/skiff/controllers/nodeipam"
	"github.com/skiff-dev/skiff/kubelet/hollow"
)

// hollowNodesUser is who the hollow kubelet acts as. It plays many nodes
// on one client, so no single node identity (and no Node authorizer
// scope) fits; a user in system:masters is acceptable for a test tool, as
// kwok's is.
const hollowNodesUser = "skiff:hollow-nodes"

func (c *Config) nodeIPAMOptions() nodeipam.Options {
	opts := nodeipam.Options{ClusterCIDRs: []*net.IPNet{c.ClusterCIDR}, NodeMaskSizes: []int{c.NodeCIDRMaskSize}}
	if c.ServiceCIDR != nil {
		opts.ServiceCIDRs = []*net.IPNet{c.ServiceCIDR}
	}
	return opts
}

// addHollowNodes starts Config.HollowNodes hollow nodes once the API serves.
func (s *Server) addHollowNodes(srv *genericapiserver.GenericAPIServer, loopback *rest.Config) error {
	if s.cfg.HollowNodes <= 0 {
		return nil
	}
	cfg, err := s.ca.clientConfig(loopback, hollowNodesUser, []string{user.SystemPrivilegedGroup})
	if err != nil {
		return err
	}
	k, err := hollow.NewForConfig(cfg, hollow.Options{Nodes: s.cfg.HollowNodes, Prefix: s.cfg.HollowNodePrefix})
	if err != nil {
		return fmt.Errorf("hollow nodes: %w", err)
	}
	srv.AddPostStartHookOrDie("skiff-hollow-nodes", func(hc genericapiserver.PostStartHookContext) error {
		go k.Run(hc)
		return nil
	})
	return nil
}
