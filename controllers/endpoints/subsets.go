package endpoints

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/fnv"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/dump"
)

// repack merges subsets into the canonical form upstream stores: one
// subset per distinct set of addresses, holding every port those addresses
// serve, sorted so that the same endpoints always compare equal. An address
// not ready on some port is not ready on it in the result.
func repack(subsets []corev1.EndpointSubset) []corev1.EndpointSubset {
	type addrKey struct {
		ip  string
		uid types.UID
	}
	// The sentinel port keeps addresses of subsets without ports.
	sentinel := corev1.EndpointPort{Port: -1}
	addrs := map[addrKey]*corev1.EndpointAddress{}
	byPort := map[corev1.EndpointPort]map[*corev1.EndpointAddress]bool{}
	note := func(a corev1.EndpointAddress, port corev1.EndpointPort, ready bool) {
		k := addrKey{ip: a.IP}
		if a.TargetRef != nil {
			k.uid = a.TargetRef.UID
		}
		p := addrs[k]
		if p == nil {
			p = &a
			addrs[k] = p
		}
		if byPort[port] == nil {
			byPort[port] = map[*corev1.EndpointAddress]bool{}
		}
		if wasReady, seen := byPort[port][p]; !seen || wasReady {
			byPort[port][p] = ready
		}
	}
	for _, ss := range subsets {
		ports := ss.Ports
		if len(ports) == 0 {
			ports = []corev1.EndpointPort{sentinel}
		}
		for _, port := range ports {
			for _, a := range ss.Addresses {
				note(a, port, true)
			}
			for _, a := range ss.NotReadyAddresses {
				note(a, port, false)
			}
		}
	}
	// Group ports by the exact set of addresses (with readiness) behind them.
	sets := map[string]map[*corev1.EndpointAddress]bool{}
	portsOf := map[string][]corev1.EndpointPort{}
	for port, set := range byPort {
		key := hashAddressSet(set)
		sets[key] = set
		if port.Port > 0 {
			portsOf[key] = append(portsOf[key], port)
		} else if _, ok := portsOf[key]; !ok {
			portsOf[key] = nil
		}
	}
	out := []corev1.EndpointSubset{}
	for key, ports := range portsOf {
		var ss corev1.EndpointSubset
		for a, ready := range sets[key] {
			if ready {
				ss.Addresses = append(ss.Addresses, *a)
			} else {
				ss.NotReadyAddresses = append(ss.NotReadyAddresses, *a)
			}
		}
		ss.Ports = ports
		out = append(out, ss)
	}
	return sortSubsets(out)
}

func lessAddress(a, b *corev1.EndpointAddress) bool {
	if c := bytes.Compare([]byte(a.IP), []byte(b.IP)); c != 0 {
		return c < 0
	}
	if b.TargetRef == nil {
		return false
	}
	if a.TargetRef == nil {
		return true
	}
	return a.TargetRef.UID < b.TargetRef.UID
}

func compareAddresses(a, b corev1.EndpointAddress) int {
	switch {
	case lessAddress(&a, &b):
		return -1
	case lessAddress(&b, &a):
		return 1
	}
	return 0
}

// deepHash is upstream's DeepHashObject: the object printed for hashing,
// through hasher.
func deepHash(hasher hash.Hash, obj any) []byte {
	hasher.Reset()
	fmt.Fprintf(hasher, "%v", dump.ForHash(obj))
	return hasher.Sum(nil)
}

// hashAddressSet names a set of addresses with their readiness, hashing
// them in address order with the same structure upstream hashes.
func hashAddressSet(set map[*corev1.EndpointAddress]bool) string {
	type addrReady struct {
		addr  *corev1.EndpointAddress
		ready bool
	}
	flat := make([]addrReady, 0, len(set))
	for a, ready := range set {
		flat = append(flat, addrReady{a, ready})
	}
	slices.SortFunc(flat, func(x, y addrReady) int { return compareAddresses(*x.addr, *y.addr) })
	return hex.EncodeToString(deepHash(fnv.New128a(), flat))
}

// sortSubsets orders addresses by IP and UID, and ports and subsets by
// their hashes, as upstream's SortSubsets.
func sortSubsets(subsets []corev1.EndpointSubset) []corev1.EndpointSubset {
	byHash := func(x, y any) int {
		return bytes.Compare(deepHash(fnv.New128a(), x), deepHash(fnv.New128a(), y))
	}
	for i := range subsets {
		slices.SortFunc(subsets[i].Addresses, compareAddresses)
		slices.SortFunc(subsets[i].NotReadyAddresses, compareAddresses)
		slices.SortFunc(subsets[i].Ports, func(a, b corev1.EndpointPort) int { return byHash(a, b) })
	}
	slices.SortFunc(subsets, func(a, b corev1.EndpointSubset) int { return byHash(a, b) })
	return subsets
}

// RepackSubsets is repack for other controllers: upstream's
// endpoints.RepackSubsets, which the EndpointSlice mirroring controller
// applies to the Endpoints it mirrors.
func RepackSubsets(subsets []corev1.EndpointSubset) []corev1.EndpointSubset {
	return repack(subsets)
}
