package service

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	networkingv1client "k8s.io/client-go/kubernetes/typed/networking/v1"
	"k8s.io/klog/v2"
)

// ipAllocatorName is the manager upstream's allocator stamps on every
// IPAddress it creates.
const ipAllocatorName = "ipallocator.k8s.io"

// Errors of the ClusterIP allocator, worded as upstream's ipallocator.
var (
	errIPFull            = errors.New("range is full")
	errIPAllocated       = errors.New("provided IP is already allocated")
	errMismatchedNetwork = errors.New("the provided network does not match the current range")
	errIPNotReady        = errors.New("allocator not ready")
)

type errIPNotInRange struct {
	ip         net.IP
	validRange string
}

func (e *errIPNotInRange) Error() string {
	return fmt.Sprintf("the provided IP (%v) is not in the valid range. The range of valid IPs is %s", e.ip, e.validRange)
}

// lister is the part of a generic store the allocator reads through: the
// watch cache of ServiceCIDRs and IPAddresses.
type lister interface {
	List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error)
}

// ipAllocator allocates ClusterIPs of one family. The ranges are the
// ServiceCIDR objects; an address is taken when its IPAddress object exists,
// so creating that object is the atomic allocation step.
type ipAllocator struct {
	family corev1.IPFamily
	cidrs  lister // ServiceCIDRs
	used   lister // IPAddresses
	client networkingv1client.IPAddressInterface
}

// ipRange is one CIDR of a ServiceCIDR, with the bounds upstream's allocator
// derives from it.
type ipRange struct {
	prefix      netip.Prefix
	first, last netip.Addr // usable addresses: no network address, no IPv4 broadcast
	offsetAddr  netip.Addr // start of the upper sub-range dynamic allocation prefers
	rangeOffset uint64
	size        uint64
	ready       bool
}

func newIPRange(prefix netip.Prefix) (*ipRange, error) {
	prefix = prefix.Masked()
	if prefix.Addr().Is6() && prefix.Bits() < 64 {
		return nil, fmt.Errorf("shortest allowed prefix length for service CIDR is 64, got %d", prefix.Bits())
	}
	r := &ipRange{prefix: prefix, first: prefix.Addr().Next(), last: lastAddr(prefix)}
	if prefix.Addr().Is4() {
		r.last = r.last.Prev()
	}
	hostBits := prefix.Addr().BitLen() - prefix.Bits()
	r.size = math.MaxUint64
	if hostBits < 64 {
		r.size = uint64(1)<<hostBits - 1
		if prefix.Addr().Is4() && r.size > 0 {
			r.size--
		}
	}
	r.rangeOffset = rangeOffset(prefix)
	var ok bool
	if r.offsetAddr, ok = addOffset(r.first, r.rangeOffset); !ok {
		return nil, fmt.Errorf("service CIDR %s is too small", prefix)
	}
	return r, nil
}

// rangeOffset is KEP-3070's split of a range: the lower part is kept for
// static allocation, min(max(16, size/16), 256) addresses.
func rangeOffset(prefix netip.Prefix) uint64 {
	hostBits := prefix.Addr().BitLen() - prefix.Bits()
	if hostBits >= 63 {
		return 256
	}
	size := uint64(1) << hostBits
	switch {
	case size <= 16:
		return 0
	case size/16 < 16:
		return 16
	case size/16 > 256:
		return 256
	}
	return size / 16
}

// prefixContainsIP is true when addr is in prefix and is neither its network
// address nor, for IPv4, its broadcast address: a ServiceCIDR never hands
// those out, so a ClusterIP equal to one of them belongs to no ServiceCIDR.
func prefixContainsIP(prefix netip.Prefix, addr netip.Addr) bool {
	prefix = prefix.Masked()
	if addr == prefix.Addr() || (addr.Is4() && addr == lastAddr(prefix)) {
		return false
	}
	return prefix.Contains(addr)
}

func lastAddr(prefix netip.Prefix) netip.Addr {
	b := prefix.Addr().AsSlice()
	hostBits := len(b)*8 - prefix.Bits()
	for i := len(b) - 1; i >= 0 && hostBits > 0; i-- {
		if hostBits >= 8 {
			b[i] = 0xff
			hostBits -= 8
			continue
		}
		b[i] |= byte(0xff) >> (8 - hostBits)
		break
	}
	addr, _ := netip.AddrFromSlice(b)
	return addr
}

func addOffset(addr netip.Addr, offset uint64) (netip.Addr, bool) {
	b := addr.AsSlice()
	sum := new(big.Int).Add(new(big.Int).SetBytes(b), new(big.Int).SetUint64(offset)).Bytes()
	if len(sum) > len(b) {
		return netip.Addr{}, false
	}
	out := make([]byte, len(b))
	copy(out[len(b)-len(sum):], sum)
	return netip.AddrFromSlice(out)
}

// noNamespace is the context the cluster-scoped stores are read with.
func noNamespace(ctx context.Context) context.Context {
	return genericapirequest.WithNamespace(ctx, metav1.NamespaceNone)
}

// fromCache reads the watch cache, as upstream's informers would.
var fromCache = &metainternalversion.ListOptions{ResourceVersion: "0"}

// ranges returns the CIDRs of this family of every ServiceCIDR, in a stable
// order. A range is ready when a ServiceCIDR holding it is ready and not
// being deleted.
func (a *ipAllocator) ranges(ctx context.Context) ([]*ipRange, error) {
	obj, err := a.cidrs.List(noNamespace(ctx), fromCache)
	if err != nil {
		return nil, err
	}
	byCIDR := map[netip.Prefix]*ipRange{}
	for _, sc := range obj.(*networkingv1.ServiceCIDRList).Items {
		ready := serviceCIDRReady(&sc) && sc.DeletionTimestamp == nil
		for _, cidr := range sc.Spec.CIDRs {
			prefix, err := netip.ParsePrefix(cidr)
			if err != nil || familyOfAddr(prefix.Addr()) != a.family {
				continue
			}
			if r, ok := byCIDR[prefix.Masked()]; ok {
				r.ready = r.ready || ready
				continue
			}
			r, err := newIPRange(prefix)
			if err != nil {
				klog.InfoS("Skipping service CIDR", "serviceCIDR", sc.Name, "cidr", cidr, "err", err)
				continue
			}
			r.ready = ready
			byCIDR[r.prefix] = r
		}
	}
	out := make([]*ipRange, 0, len(byCIDR))
	for _, r := range byCIDR {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].prefix.String() < out[j].prefix.String() })
	return out, nil
}

// serviceCIDRReady reads the Ready condition; a ServiceCIDR without one
// counts as ready, so allocation works before any controller ran.
func serviceCIDRReady(sc *networkingv1.ServiceCIDR) bool {
	for _, c := range sc.Status.Conditions {
		if c.Type == networkingv1.ServiceCIDRConditionReady {
			return c.Status == metav1.ConditionTrue
		}
	}
	return true
}

func familyOfAddr(addr netip.Addr) corev1.IPFamily {
	if addr.Is4() || addr.Is4In6() {
		return corev1.IPv4Protocol
	}
	return corev1.IPv6Protocol
}

// allocate reserves ip for svc.
func (a *ipAllocator) allocate(ctx context.Context, svc *corev1.Service, ip net.IP, dryRun bool) error {
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return fmt.Errorf("invalid IP %s", ip)
	}
	addr = addr.Unmap()
	ranges, err := a.ranges(ctx)
	if err != nil {
		return err
	}
	if dryRun {
		// Upstream checks a dry run against one range only, and only its bounds.
		if len(ranges) == 0 || !ranges[0].ready {
			return errIPNotReady
		}
		return ranges[0].check(addr)
	}
	var r *ipRange
	for _, candidate := range ranges {
		if candidate.ready && prefixContainsIP(candidate.prefix, addr) {
			r = candidate
			break
		}
	}
	if r == nil {
		return errMismatchedNetwork
	}
	if err := r.check(addr); err != nil {
		return err
	}
	return a.create(ctx, addr, svc)
}

func (r *ipRange) check(addr netip.Addr) error {
	if addr.Less(r.first) || r.last.Less(addr) {
		return &errIPNotInRange{ip: addr.AsSlice(), validRange: r.prefix.String()}
	}
	return nil
}

// allocateNext reserves a free address for svc from any ready range,
// starting at a random place in the upper sub-range as upstream does.
func (a *ipAllocator) allocateNext(ctx context.Context, svc *corev1.Service, dryRun bool) (net.IP, error) {
	ranges, err := a.ranges(ctx)
	if err != nil {
		return nil, err
	}
	if dryRun {
		// Upstream does not search on a dry run: it answers with the
		// network address of one range.
		if len(ranges) == 0 || !ranges[0].ready {
			return nil, errIPNotReady
		}
		return ranges[0].prefix.Addr().AsSlice(), nil
	}
	used := &usedSet{list: a.usedAddrs}
	for _, r := range ranges {
		if !r.ready {
			continue
		}
		addr, err := a.allocateFrom(ctx, r, used, svc)
		if err == nil {
			return addr.AsSlice(), nil
		}
		if !errors.Is(err, errIPFull) {
			return nil, err
		}
	}
	return nil, errIPFull
}

// usedSet is the set of taken addresses, read from the cache only when the
// first address tried turns out to be taken: in a sparsely used range one
// create is all an allocation costs.
type usedSet struct {
	list  func(ctx context.Context) (map[netip.Addr]bool, error)
	addrs map[netip.Addr]bool
}

func (u *usedSet) has(addr netip.Addr) bool { return u.addrs[addr] }

// load reads the set once; it is called after the first collision.
func (u *usedSet) load(ctx context.Context) error {
	if u.addrs != nil {
		return nil
	}
	addrs, err := u.list(ctx)
	if err != nil {
		return err
	}
	u.addrs = addrs
	return nil
}

func (a *ipAllocator) usedAddrs(ctx context.Context) (map[netip.Addr]bool, error) {
	obj, err := a.used.List(noNamespace(ctx), fromCache)
	if err != nil {
		return nil, err
	}
	used := map[netip.Addr]bool{}
	for _, ip := range obj.(*networkingv1.IPAddressList).Items {
		if addr, err := netip.ParseAddr(ip.Name); err == nil {
			used[addr] = true
		}
	}
	return used, nil
}

func (a *ipAllocator) allocateFrom(ctx context.Context, r *ipRange, used *usedSet, svc *corev1.Service) (netip.Addr, error) {
	upper := r.size - r.rangeOffset
	if upper == 0 {
		return netip.Addr{}, errIPFull
	}
	var start uint64
	if upper >= math.MaxInt64 {
		start = rand.Uint64()
		if math.MaxUint64-start < r.rangeOffset {
			start -= r.rangeOffset
		}
	} else {
		start = rand.Uint64N(upper)
	}
	if addr, err := a.scan(ctx, r.offsetAddr, r.last, start, used, svc); !errors.Is(err, errIPFull) {
		return addr, err
	}
	if r.rangeOffset == 0 {
		return netip.Addr{}, errIPFull
	}
	return a.scan(ctx, r.first, r.offsetAddr.Prev(), rand.Uint64N(r.rangeOffset), used, svc)
}

// scan walks [first, last] once, from first+offset, wrapping around, and
// takes the first address it can create an IPAddress for. Another API
// server may win an address between the cache read and the create; that
// address is skipped.
func (a *ipAllocator) scan(ctx context.Context, first, last netip.Addr, offset uint64, used *usedSet, svc *corev1.Service) (netip.Addr, error) {
	start, ok := addOffset(first, offset)
	if !ok || last.Less(start) {
		start = first
	}
	addr := start
	for {
		if !used.has(addr) {
			err := a.create(ctx, addr, svc)
			if err == nil {
				return addr, nil
			}
			if !errors.Is(err, errIPAllocated) {
				return netip.Addr{}, err
			}
			if err := used.load(ctx); err != nil {
				return netip.Addr{}, err
			}
		}
		if addr == last {
			addr = first
		} else {
			addr = addr.Next()
		}
		if addr == start {
			return netip.Addr{}, errIPFull
		}
	}
}

// create writes the IPAddress object that marks addr as allocated to svc.
func (a *ipAllocator) create(ctx context.Context, addr netip.Addr, svc *corev1.Service) error {
	_, err := a.client.Create(ctx, newIPAddress(addr.String(), svc), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return errIPAllocated
	}
	return err
}

// release deletes the IPAddress of ip. Like upstream, failures are only
// logged: the repair loop removes what is left behind.
func (a *ipAllocator) release(ctx context.Context, ip string) {
	err := a.client.Delete(ctx, ip, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		klog.InfoS("Error releasing IP", "ip", ip, "err", err)
	}
}

func newIPAddress(name string, svc *corev1.Service) *networkingv1.IPAddress {
	family := corev1.IPv4Protocol
	if addr, err := netip.ParseAddr(name); err == nil {
		family = familyOfAddr(addr)
	}
	return &networkingv1.IPAddress{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				networkingv1.LabelIPAddressFamily: string(family),
				networkingv1.LabelManagedBy:       ipAllocatorName,
			},
		},
		Spec: networkingv1.IPAddressSpec{
			ParentRef: &networkingv1.ParentReference{
				Group:     "",
				Resource:  "services",
				Namespace: svc.Namespace,
				Name:      svc.Name,
			},
		},
	}
}
