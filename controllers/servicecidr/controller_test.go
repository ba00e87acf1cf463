package servicecidr

import (
	"context"
	"net/netip"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
)

func TestAllocatable(t *testing.T) {
	for _, tc := range []struct {
		prefix, addr string
		want         bool
	}{
		{"10.43.0.0/16", "10.43.0.0", false},
		{"10.43.0.0/16", "10.43.255.255", false},
		{"10.43.0.0/16", "10.43.0.1", true},
		{"10.43.0.0/16", "10.44.0.1", false},
		{"fd00::/112", "fd00::ffff", true},
		{"fd00::/112", "fd00::", false},
	} {
		if got := allocatable(netip.MustParsePrefix(tc.prefix), netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("allocatable(%s, %s) = %v, want %v", tc.prefix, tc.addr, got, tc.want)
		}
	}
}

func TestCanDelete(t *testing.T) {
	cidr := func(name string, cidrs ...string) *networkingv1.ServiceCIDR {
		return &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: networkingv1.ServiceCIDRSpec{CIDRs: cidrs}}
	}
	ip := func(name string, managed bool) *networkingv1.IPAddress {
		labels := map[string]string{networkingv1.LabelIPAddressFamily: "IPv4"}
		if managed {
			labels[networkingv1.LabelManagedBy] = ipAllocatorName
		}
		return &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	}
	for _, tc := range []struct {
		name  string
		cidrs []*networkingv1.ServiceCIDR
		ips   []*networkingv1.IPAddress
		want  bool
	}{
		{"unused", []*networkingv1.ServiceCIDR{cidr("x", "10.44.0.0/24")}, nil, true},
		{"address-in-use", []*networkingv1.ServiceCIDR{cidr("x", "10.44.0.0/24")}, []*networkingv1.IPAddress{ip("10.44.0.10", true)}, false},
		{"address-elsewhere", []*networkingv1.ServiceCIDR{cidr("x", "10.44.0.0/24")}, []*networkingv1.IPAddress{ip("10.43.0.10", true)}, true},
		{"address-not-managed", []*networkingv1.ServiceCIDR{cidr("x", "10.44.0.0/24")}, []*networkingv1.IPAddress{ip("10.44.0.10", false)}, true},
		{"inside-a-bigger-one", []*networkingv1.ServiceCIDR{cidr("x", "10.44.0.0/24"), cidr("big", "10.44.0.0/16")},
			[]*networkingv1.IPAddress{ip("10.44.0.10", true)}, true},
		{"same-range-twice", []*networkingv1.ServiceCIDR{cidr("x", "10.44.0.0/24"), cidr("twin", "10.44.0.0/24")},
			[]*networkingv1.IPAddress{ip("10.44.0.10", true)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cidrs := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
			for _, c := range tc.cidrs {
				_ = cidrs.Add(c)
			}
			ips := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
			for _, i := range tc.ips {
				_ = ips.Add(i)
			}
			c := &Controller{cidrs: networkinglisters.NewServiceCIDRLister(cidrs), ips: networkinglisters.NewIPAddressLister(ips)}
			if got := c.canDelete(context.Background(), tc.cidrs[0]); got != tc.want {
				t.Errorf("canDelete = %v, want %v", got, tc.want)
			}
		})
	}
}
