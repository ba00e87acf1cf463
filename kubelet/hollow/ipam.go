package hollow

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// ipPool hands out the pod IPs of one node's pod CIDR, as a host-local
// IPAM would: never the network address, the gateway (.1) or, for IPv4,
// the broadcast address, round robin so an address is not reused at once.
type ipPool struct {
	cidr *net.IPNet
	mu   sync.Mutex
	base *big.Int
	size int
	used map[int]bool
	next int
}

// maxPoolSize bounds the addresses tracked per node: far more than the
// pods one node runs, even for an IPv6 /64.
const maxPoolSize = 1 << 16

func newIPPool(cidr *net.IPNet) *ipPool {
	ones, bits := cidr.Mask.Size()
	size := maxPoolSize
	if bits-ones < 16 {
		size = 1 << (bits - ones)
	}
	return &ipPool{cidr: cidr, base: new(big.Int).SetBytes(ipBytes(cidr.IP.Mask(cidr.Mask))), size: size, used: map[int]bool{}, next: 2}
}

func (p *ipPool) usable(i int) bool {
	if i < 2 {
		return false
	}
	_, bits := p.cidr.Mask.Size()
	ones, _ := p.cidr.Mask.Size()
	return !(bits == 32 && bits-ones < 16 && i == p.size-1)
}

func (p *ipPool) ip(i int) net.IP {
	ip := make(net.IP, len(ipBytes(p.cidr.IP)))
	new(big.Int).Add(p.base, big.NewInt(int64(i))).FillBytes(ip)
	return ip
}

// allocate returns a free address.
func (p *ipPool) allocate() (net.IP, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range p.size {
		i := p.next
		p.next = (p.next + 1) % p.size
		if p.usable(i) && !p.used[i] {
			p.used[i] = true
			return p.ip(i), nil
		}
	}
	return nil, fmt.Errorf("no free address in pod CIDR %s", p.cidr)
}

// occupy marks ip taken, reporting whether it belongs to the pool.
func (p *ipPool) occupy(ip net.IP) bool {
	i, ok := p.index(ip)
	if ok {
		p.mu.Lock()
		p.used[i] = true
		p.mu.Unlock()
	}
	return ok
}

func (p *ipPool) release(ip net.IP) {
	if i, ok := p.index(ip); ok {
		p.mu.Lock()
		delete(p.used, i)
		p.mu.Unlock()
	}
}

func (p *ipPool) index(ip net.IP) (int, bool) {
	if ip == nil || !p.cidr.Contains(ip) {
		return 0, false
	}
	off := new(big.Int).Sub(new(big.Int).SetBytes(ipBytes(ip)), p.base)
	if !off.IsInt64() || off.Int64() >= int64(p.size) {
		return 0, false
	}
	return int(off.Int64()), true
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// addUIDPrecondition sets metadata.uid in a strategic merge patch, which
// the API server then checks against the object it patches.
func addUIDPrecondition(patch []byte, uid types.UID) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(patch, &m); err != nil {
		return nil, fmt.Errorf("decoding a patch: %w", err)
	}
	meta, _ := m["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["uid"] = string(uid)
	m["metadata"] = meta
	return json.Marshal(m)
}
