// Package service gives Services the behaviour of the Kubernetes 1.37 service
// registry: ClusterIPs allocated as networking.k8s.io/v1 IPAddress objects
// inside ServiceCIDRs, NodePorts allocated from a bitmap kept in the
// datastore, the registry's defaulting of IP family fields, the dropping of
// type-dependent fields, and the strategies of IPAddress and ServiceCIDR.
//
// Everything is shared through the datastore (IPAddress objects and the
// RangeAllocation under /registry/ranges/servicenodeports), so several API
// servers on one datastore allocate without conflicts.
package service

import (
	"context"
	"fmt"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	netutils "k8s.io/utils/net"

	"github.com/skiff-dev/skiff/apis"
	"github.com/skiff-dev/skiff/controllers/servicecidr"
	"github.com/skiff-dev/skiff/registry"
)

// PortRange is an inclusive range of ports: Base to Base+Size-1.
type PortRange struct{ Base, Size int }

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.Base, r.Base+r.Size-1) }

func (r PortRange) contains(port int) bool { return port >= r.Base && port < r.Base+r.Size }

// Options configure the service registry.
type Options struct {
	// ServiceCIDR is the primary service range (--service-cidr); its family
	// is the default family of single-stack Services.
	ServiceCIDR *net.IPNet
	// SecondaryServiceCIDR, when set, makes the cluster dual-stack.
	SecondaryServiceCIDR *net.IPNet
	// NodePortRange is the range NodePorts come from (--service-node-port-range).
	NodePortRange PortRange
	// RESTOptionsGetter gives the storage the NodePort bitmap is kept in.
	RESTOptionsGetter generic.RESTOptionsGetter
	// LoopbackConfig reaches this API server; IPAddress objects are written
	// through it, as upstream's allocator does.
	LoopbackConfig *restclient.Config
}

// Registry holds the allocators shared by the Service storage and the
// start-up work (default ServiceCIDR, repair).
type Registry struct {
	opts     Options
	families []corev1.IPFamily // configured families, primary first
	client   kubernetes.Interface
	ips      map[corev1.IPFamily]*ipAllocator
	ports    *portAllocator
}

// New checks opts and prepares the allocators; storage is attached by Extra.
func New(opts Options) (*Registry, error) {
	if opts.ServiceCIDR == nil {
		return nil, fmt.Errorf("service registry: no service CIDR")
	}
	if opts.NodePortRange.Size <= 0 {
		return nil, fmt.Errorf("service registry: empty NodePort range %s", opts.NodePortRange)
	}
	if opts.RESTOptionsGetter == nil || opts.LoopbackConfig == nil {
		return nil, fmt.Errorf("service registry: storage and loopback client are required")
	}
	cfg := restclient.CopyConfig(opts.LoopbackConfig)
	// Upstream writes IPAddresses and the default ServiceCIDR with the
	// API server's own loopback client, so managedFields name kube-apiserver.
	cfg.UserAgent = userAgent("kube-apiserver")
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("service registry: loopback client: %w", err)
	}
	r := &Registry{opts: opts, client: client, ips: map[corev1.IPFamily]*ipAllocator{}}
	for _, cidr := range []*net.IPNet{opts.ServiceCIDR, opts.SecondaryServiceCIDR} {
		if cidr == nil {
			continue
		}
		fam := familyOfCIDR(cidr)
		if _, dup := r.ips[fam]; dup {
			return nil, fmt.Errorf("service registry: two service CIDRs of family %s", fam)
		}
		r.families = append(r.families, fam)
		r.ips[fam] = &ipAllocator{family: fam, client: client.NetworkingV1().IPAddresses()}
	}
	return r, nil
}

// userAgent names the loopback requests of this package after the upstream
// component that makes them, which is what their managedFields show.
func userAgent(component string) string {
	ua := restclient.DefaultKubernetesUserAgent()
	if i := strings.IndexByte(ua, '/'); i >= 0 {
		return component + ua[i:]
	}
	return component
}

// serviceCIDRWorkers is kube-controller-manager's worker count for the
// service-cidr controller.
const serviceCIDRWorkers = 5

func familyOfCIDR(cidr *net.IPNet) corev1.IPFamily {
	if netutils.IsIPv6CIDR(cidr) {
		return corev1.IPv6Protocol
	}
	return corev1.IPv4Protocol
}

// defaultFamily is the family of --service-cidr.
func (r *Registry) defaultFamily() corev1.IPFamily { return r.families[0] }

// Extra implements registry.Extra: it gives the services, ipaddresses and
// servicecidrs storage built by registry.APIGroups their upstream behaviour.
func (r *Registry) Extra(stores map[string]*registry.Storage, add func(gv schema.GroupVersion, path string, storage rest.Storage)) error {
	get := func(name string) (*registry.Storage, error) {
		s, ok := stores[name]
		if !ok {
			return nil, fmt.Errorf("service registry: no storage for %s", name)
		}
		return s, nil
	}
	services, err := get("services")
	if err != nil {
		return err
	}
	ipAddresses, err := get("ipaddresses.networking.k8s.io")
	if err != nil {
		return err
	}
	serviceCIDRs, err := get("servicecidrs.networking.k8s.io")
	if err != nil {
		return err
	}

	ports, err := newPortAllocator(r.opts.RESTOptionsGetter, r.opts.NodePortRange)
	if err != nil {
		return err
	}
	r.ports = ports
	for _, a := range r.ips {
		a.cidrs = serviceCIDRs.Store
		a.used = ipAddresses.Store
	}

	serve := func(group, path string, storage rest.Storage) {
		for _, gv := range apis.ServedGroupVersions {
			if gv.Group == group {
				add(gv, path, storage)
			}
		}
	}
	serve("", "services/status", r.installServiceStorage(services))
	installIPAddressStorage(ipAddresses)
	serve("networking.k8s.io", "servicecidrs/status", installServiceCIDRStorage(serviceCIDRs))
	return nil
}

// Start runs what kube-apiserver runs to keep the allocations sound until
// ctx ends: the default "kubernetes" ServiceCIDR and the repair of
// ClusterIP and NodePort allocations. (ServiceCIDRController is the
// controller-manager side.) It returns once the default
// ServiceCIDR exists and the first repair pass is done, as kube-apiserver's
// start-up hooks do.
func (r *Registry) Start(ctx context.Context) error {
	if r.ports == nil {
		return fmt.Errorf("service registry: Start before Extra")
	}
	d := &defaultServiceCIDR{client: r.client, cidrs: r.cidrStrings()}
	if err := d.start(ctx); err != nil {
		return err
	}
	rep := newRepair(r)
	rep.start(ctx)
	return nil
}

func (r *Registry) cidrStrings() []string {
	out := []string{r.opts.ServiceCIDR.String()}
	if r.opts.SecondaryServiceCIDR != nil {
		out = append(out, r.opts.SecondaryServiceCIDR.String())
	}
	return out
}

// ServiceCIDRController returns kube-controller-manager's service-cidrs
// controller, which guards ServiceCIDRs that still hold addresses, acting
// as cfg; run blocks until ctx ends.
func (r *Registry) ServiceCIDRController(cfg *restclient.Config) (run func(ctx context.Context), err error) {
	cfg = restclient.CopyConfig(cfg)
	cfg.UserAgent = userAgent("kube-controller-manager") + "/service-cidrs-controller"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("service-cidrs controller client: %w", err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	ctrl := servicecidr.New(client, factory.Networking().V1().ServiceCIDRs(), factory.Networking().V1().IPAddresses())
	return func(ctx context.Context) {
		factory.Start(ctx.Done())
		ctrl.Run(ctx, serviceCIDRWorkers)
	}, nil
}
