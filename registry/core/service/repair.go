package service

import (
	"context"
	"fmt"
	"math/big"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/storage"
	storeerr "k8s.io/apiserver/pkg/storage/errors"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"
)

// repairInterval is how often upstream re-checks the allocations.
const repairInterval = 3 * time.Minute

// leakCleanupAfter is how many passes a NodePort must look leaked before it
// is freed, to let in-flight creates finish.
const leakCleanupAfter = 3

// repair brings the allocations back in line with the Services: ports and
// addresses in use but not recorded are recorded, recorded ones nobody uses
// are freed. It runs at start and then every few minutes, like upstream's
// repair controllers.
type repair struct {
	reg        *Registry
	ipRecorder events.EventRecorder
	npRecorder events.EventRecorder
	leaks      map[int]int
	now        func() time.Time
}

func newRepair(reg *Registry) *repair {
	return &repair{reg: reg, leaks: map[int]int{}, now: time.Now}
}

func (rp *repair) start(ctx context.Context) {
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: rp.reg.client.EventsV1()})
	if err := broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
		klog.ErrorS(err, "Service allocation repair records no events")
	}
	rp.ipRecorder = broadcaster.NewRecorder(clientgoscheme.Scheme, "ipallocator-repair-controller")
	rp.npRecorder = broadcaster.NewRecorder(clientgoscheme.Scheme, "portallocator-repair-controller")
	rp.runOnce(ctx)
	go func() {
		defer broadcaster.Shutdown()
		wait.UntilWithContext(ctx, rp.runOnce, repairInterval)
	}()
}

func (rp *repair) runOnce(ctx context.Context) {
	if err := retry.RetryOnConflict(retry.DefaultBackoff, func() error { return rp.repairNodePorts(ctx) }); err != nil {
		klog.ErrorS(err, "Repairing NodePort allocations failed")
	}
	if err := rp.repairClusterIPs(ctx); err != nil {
		klog.ErrorS(err, "Repairing ClusterIP allocations failed")
	}
}

// repairNodePorts rebuilds the NodePort bitmap from the Services.
func (rp *repair) repairNodePorts(ctx context.Context) error {
	ports := rp.reg.ports
	snapshot, err := ports.get(ctx)
	if err != nil {
		return fmt.Errorf("unable to refresh the port allocations: %w", err)
	}
	storedRange := ports.ports
	if snapshot.Range != "" {
		pr, err := utilnet.ParsePortRange(snapshot.Range)
		if err != nil {
			return fmt.Errorf("unable to rebuild allocator from snapshot: %w", err)
		}
		storedRange = PortRange{Base: pr.Base, Size: pr.Size}
	}
	stored := new(big.Int).SetBytes(snapshot.Data)
	storedHas := func(port int) bool { return storedRange.contains(port) && stored.Bit(port-storedRange.Base) == 1 }

	list, err := rp.reg.client.CoreV1().Services(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("unable to refresh the port block: %w", err)
	}
	rebuilt := new(big.Int)
	for i := range list.Items {
		svc := &list.Items[i]
		for _, port := range repairNodePortsOf(svc) {
			switch {
			case !ports.ports.contains(port):
				rp.npRecorder.Eventf(svc, nil, corev1.EventTypeWarning, "PortOutOfRange", "PortAllocation", "Port %d is not within the port range %s; please recreate service", port, ports.ports)
				klog.InfoS("NodePort is not within the port range; please recreate", "port", port, "service", klog.KObj(svc), "range", ports.ports.String())
			case rebuilt.Bit(port-ports.ports.Base) == 1:
				rp.npRecorder.Eventf(svc, nil, corev1.EventTypeWarning, "PortAlreadyAllocated", "PortAllocation", "Port %d was assigned to multiple services; please recreate service", port)
				klog.InfoS("NodePort was assigned to multiple services; please recreate", "port", port, "service", klog.KObj(svc))
			default:
				rebuilt.SetBit(rebuilt, port-ports.ports.Base, 1)
				if storedHas(port) {
					stored.SetBit(stored, port-storedRange.Base, 0)
				} else {
					rp.npRecorder.Eventf(svc, nil, corev1.EventTypeWarning, "PortNotAllocated", "PortAllocation", "Port %d is not allocated; repairing", port)
					klog.InfoS("NodePort is not allocated; repairing", "port", port, "service", klog.KObj(svc))
				}
				delete(rp.leaks, port)
			}
		}
	}
	// Ports still set in the stored bitmap are used by no Service.
	for i := 0; i < stored.BitLen(); i++ {
		if stored.Bit(i) == 0 {
			continue
		}
		port := storedRange.Base + i
		count, flagged := rp.leaks[port]
		if !flagged {
			klog.InfoS("NodePort may have leaked: flagging for later clean up", "port", port)
			count = leakCleanupAfter - 1
		}
		if count > 0 {
			rp.leaks[port] = count - 1
			if ports.ports.contains(port) {
				rebuilt.SetBit(rebuilt, port-ports.ports.Base, 1)
			}
			continue
		}
		delete(rp.leaks, port)
		klog.InfoS("NodePort appears to have leaked: cleaning up", "port", port)
	}

	rv := snapshot.ResourceVersion
	err = ports.storage.GuaranteedUpdate(ctx, nodePortsKey, &corev1.RangeAllocation{}, true, nil,
		storage.SimpleUpdate(func(in runtime.Object) (runtime.Object, error) {
			existing := in.(*corev1.RangeAllocation)
			if existing.ResourceVersion != rv {
				// Someone allocated since the snapshot: start over.
				return nil, apierrors.NewConflict(nodePortsResource, "", fmt.Errorf("the provided resource version does not match"))
			}
			existing.Range = ports.ports.String()
			existing.Data = rebuilt.Bytes()
			return existing, nil
		}), nil)
	if err != nil {
		if apierrors.IsConflict(err) {
			return err
		}
		return fmt.Errorf("unable to persist the updated port allocations: %w", storeerr.InterpretUpdateError(err, nodePortsResource, ""))
	}
	return nil
}

// repairNodePortsOf lists the NodePorts svc holds. A port on several
// protocols counts once; the same port twice on one protocol counts twice,
// so the duplicate is reported.
func repairNodePortsOf(svc *corev1.Service) []int {
	var out []int
	seen := map[int]sets.Set[corev1.Protocol]{}
	for _, p := range svc.Spec.Ports {
		port := int(p.NodePort)
		if port == 0 {
			continue
		}
		protocols := seen[port]
		switch {
		case protocols == nil:
			protocols = sets.New(p.Protocol)
			out = append(out, port)
		case protocols.Has(p.Protocol):
			out = append(out, port)
		default:
			protocols.Insert(p.Protocol)
		}
		seen[port] = protocols
	}
	if hc := int(svc.Spec.HealthCheckNodePort); hc != 0 {
		if protocols := seen[hc]; protocols == nil || protocols.Has(corev1.ProtocolTCP) {
			out = append(out, hc)
		}
	}
	return out
}

// repairClusterIPs makes the IPAddress objects match the Services' ClusterIPs.
func (rp *repair) repairClusterIPs(ctx context.Context) error {
	client := rp.reg.client
	svcList, err := client.CoreV1().Services(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing services: %w", err)
	}
	ipList, err := client.NetworkingV1().IPAddresses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing IP addresses: %w", err)
	}
	cidrList, err := client.NetworkingV1().ServiceCIDRs().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing service CIDRs: %w", err)
	}
	services := map[string]*corev1.Service{}
	for i := range svcList.Items {
		svc := &svcList.Items[i]
		services[svc.Namespace+"/"+svc.Name] = svc
	}
	ipAddresses := map[string]*networkingv1.IPAddress{}
	for i := range ipList.Items {
		ipAddresses[ipList.Items[i].Name] = &ipList.Items[i]
	}
	var prefixes []netip.Prefix
	for _, sc := range cidrList.Items {
		for _, c := range sc.Spec.CIDRs {
			if p, err := netip.ParsePrefix(c); err == nil {
				prefixes = append(prefixes, p)
			}
		}
	}
	inRange := func(addr netip.Addr) bool {
		for _, p := range prefixes {
			if prefixContainsIP(p, addr) {
				return true
			}
		}
		return false
	}

	for _, svc := range svcList.Items {
		if !isIPSet(&svc) {
			continue
		}
		for _, clusterIP := range svc.Spec.ClusterIPs {
			if err := rp.repairServiceIP(ctx, &svc, clusterIP, ipAddresses, services, inRange); err != nil {
				klog.ErrorS(err, "Repairing ClusterIP", "service", klog.KObj(&svc), "clusterIP", clusterIP)
			}
		}
	}
	for _, ip := range ipList.Items {
		if err := rp.repairIPAddress(ctx, &ip, services); err != nil {
			klog.ErrorS(err, "Repairing IPAddress", "ipaddress", ip.Name)
		}
	}
	return nil
}

func (rp *repair) repairServiceIP(ctx context.Context, svc *corev1.Service, clusterIP string, ipAddresses map[string]*networkingv1.IPAddress, services map[string]*corev1.Service, inRange func(netip.Addr) bool) error {
	parsed := netutils.ParseIPSloppy(clusterIP)
	if parsed == nil {
		rp.ipRecorder.Eventf(svc, nil, corev1.EventTypeWarning, "ClusterIPNotValid", "ClusterIPValidation", "Cluster IP %s is not a valid IP; please recreate Service", clusterIP)
		return nil
	}
	addr, _ := netip.AddrFromSlice(parsed)
	addr = addr.Unmap()
	family := familyOfAddr(addr)
	if !inRange(addr) {
		rp.ipRecorder.Eventf(svc, nil, corev1.EventTypeWarning, "ClusterIPOutOfRange", "ClusterIPAllocation", "Cluster IP [%v]: %s is not within any configured Service CIDR; please recreate service", family, addr)
		return nil
	}
	ipAddr, ok := ipAddresses[addr.String()]
	if !ok {
		// The Service may be gone by now; do not resurrect its address.
		current, err := rp.reg.client.CoreV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
		if err != nil || current.UID != svc.UID || !containsString(current.Spec.ClusterIPs, clusterIP) {
			return nil
		}
		rp.ipRecorder.Eventf(svc, nil, corev1.EventTypeWarning, "ClusterIPNotAllocated", "ClusterIPAllocation", "Cluster IP [%v]: %s is not allocated; repairing", family, addr)
		_, err = rp.reg.client.NetworkingV1().IPAddresses().Create(ctx, newIPAddress(addr.String(), svc), metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	ref := ipAddr.Spec.ParentRef
	if ref == nil || ref.Group != "" || ref.Resource != "services" {
		rp.ipRecorder.Eventf(svc, nil, corev1.EventTypeWarning, "ClusterIPNotAllocated", "ClusterIPAllocation", "the ClusterIP [%v]: %s for Service %s/%s has a wrong reference; repairing", family, addr, svc.Namespace, svc.Name)
		return rp.recreateIPAddress(ctx, ipAddr.Name, svc)
	}
	if ref.Namespace != svc.Namespace || ref.Name != svc.Name {
		other, ok := services[ref.Namespace+"/"+ref.Name]
		if !ok {
			rp.ipRecorder.Eventf(svc, nil, corev1.EventTypeWarning, "ClusterIPNotAllocated", "ClusterIPAllocation", "the ClusterIP [%v]: %s for Service %s/%s has a wrong reference; repairing", family, addr, svc.Namespace, svc.Name)
			return rp.recreateIPAddress(ctx, ipAddr.Name, svc)
		}
		if containsString(other.Spec.ClusterIPs, ipAddr.Name) {
			rp.ipRecorder.Eventf(svc, nil, corev1.EventTypeWarning, "ClusterIPAlreadyAllocated", "ClusterIPAllocation", "Cluster IP [%v]:%s was assigned to multiple services; please recreate service", family, addr)
		}
	}
	if !hasAllocatorLabels(ipAddr) {
		return rp.recreateIPAddress(ctx, ipAddr.Name, svc)
	}
	return nil
}

func (rp *repair) recreateIPAddress(ctx context.Context, name string, svc *corev1.Service) error {
	err := rp.reg.client.NetworkingV1().IPAddresses().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	_, err = rp.reg.client.NetworkingV1().IPAddresses().Create(ctx, newIPAddress(name, svc), metav1.CreateOptions{})
	return err
}

// repairIPAddress deletes an allocator-made IPAddress whose Service no longer
// holds it, after the grace periods upstream gives in-flight requests.
func (rp *repair) repairIPAddress(ctx context.Context, ip *networkingv1.IPAddress, services map[string]*corev1.Service) error {
	if ip.Labels[networkingv1.LabelManagedBy] != ipAllocatorName {
		return nil
	}
	del := func(reason, format string, args ...any) error {
		rp.ipRecorder.Eventf(ip, nil, corev1.EventTypeWarning, reason, "IPAddressAllocation", format, args...)
		err := rp.reg.client.NetworkingV1().IPAddresses().Delete(ctx, ip.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &ip.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
		return nil
	}
	ref := ip.Spec.ParentRef
	if ref == nil || ref.Group != "" || ref.Resource != "services" {
		return del("IPAddressNotAllocated", "IPAddress %s appears to have been modified, not referencing a Service %v: cleaning up", ip.Name, ref)
	}
	age := rp.now().Sub(ip.CreationTimestamp.Time)
	svc, ok := services[ref.Namespace+"/"+ref.Name]
	if !ok {
		if age <= time.Minute {
			return nil
		}
		return del("IPAddressNotAllocated", "IPAddress: %s for Service %s/%s appears to have leaked: cleaning up", ip.Name, ref.Namespace, ref.Name)
	}
	if containsString(svc.Spec.ClusterIPs, ip.Name) {
		return nil
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName && age < time.Minute {
		return nil
	}
	if ip.CreationTimestamp.After(svc.CreationTimestamp.Time) && age < 5*time.Second {
		return nil
	}
	return del("IPAddressWrongReference", "IPAddress: %s for Service %s/%s has a wrong reference; cleaning up", ip.Name, svc.Namespace, svc.Name)
}

func hasAllocatorLabels(ip *networkingv1.IPAddress) bool {
	family := corev1.IPv4Protocol
	if addr, err := netip.ParseAddr(ip.Name); err == nil {
		family = familyOfAddr(addr)
	}
	return ip.Labels[networkingv1.LabelIPAddressFamily] == string(family) && ip.Labels[networkingv1.LabelManagedBy] == ipAllocatorName
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
