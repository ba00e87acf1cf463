package nodeipam

import (
	"errors"
	"fmt"
	"math/big"
	"net"
	"sync"
)

var (
	// errNoCIDRsRemaining is upstream's error for an exhausted cluster CIDR.
	errNoCIDRsRemaining = errors.New("CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range")
	errSubNetTooBig     = errors.New("New CIDR set failed; the node CIDR size is too big")
)

// maxSubnetBits bounds the bitmap: upstream refuses cluster/node mask pairs
// wider than 16 bits of subnets too.
const maxSubnetBits = 16

// cidrSet hands out the node-sized subnets of one cluster CIDR, round robin
// from the last one given, as kube-controller-manager's cidrset does (so a
// subnet just released is not reused at once).
type cidrSet struct {
	mu            sync.Mutex
	cluster       *net.IPNet
	clusterBits   int // prefix length of cluster
	nodeBits      int // prefix length of a node's subnet
	max           int
	used          big.Int
	nextCandidate int
	allocated     int
}

func newCIDRSet(cluster *net.IPNet, nodeMaskSize int) (*cidrSet, error) {
	ones, bits := cluster.Mask.Size()
	if nodeMaskSize < ones || nodeMaskSize > bits {
		return nil, fmt.Errorf("node CIDR mask size %d does not fit cluster CIDR %s", nodeMaskSize, cluster)
	}
	if nodeMaskSize-ones > maxSubnetBits {
		return nil, errSubNetTooBig
	}
	ip := cluster.IP.Mask(cluster.Mask)
	if v4 := ip.To4(); v4 != nil && bits == 32 {
		ip = v4
	}
	return &cidrSet{
		cluster:     &net.IPNet{IP: ip, Mask: cluster.Mask},
		clusterBits: ones,
		nodeBits:    nodeMaskSize,
		max:         1 << (nodeMaskSize - ones),
	}, nil
}

// subnet returns the index-th node subnet.
func (s *cidrSet) subnet(index int) *net.IPNet {
	_, bits := s.cluster.Mask.Size()
	base := new(big.Int).SetBytes(s.cluster.IP)
	base.Add(base, new(big.Int).Lsh(big.NewInt(int64(index)), uint(bits-s.nodeBits)))
	ip := make(net.IP, len(s.cluster.IP))
	base.FillBytes(ip)
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(s.nodeBits, bits)}
}

// index returns the subnet index of cidr, which must be a node-sized subnet
// of the cluster CIDR or contain/overlap it; begin and end bound the
// indexes it covers.
func (s *cidrSet) indexRange(cidr *net.IPNet) (begin, end int, err error) {
	_, bits := s.cluster.Mask.Size()
	ones, cbits := cidr.Mask.Size()
	if cbits != bits {
		return 0, 0, fmt.Errorf("cidr %s is not of the family of cluster CIDR %s", cidr, s.cluster)
	}
	ip := cidr.IP.Mask(cidr.Mask)
	if v4 := ip.To4(); v4 != nil && bits == 32 {
		ip = v4
	}
	if !s.cluster.Contains(ip) && !cidr.Contains(s.cluster.IP) {
		return 0, 0, fmt.Errorf("cidr %s is out the range of cluster CIDR %s", cidr, s.cluster)
	}
	shift := uint(bits - s.nodeBits)
	first := new(big.Int).SetBytes(ip)
	last := new(big.Int).Add(first, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits-ones)), big.NewInt(1)))
	base := new(big.Int).SetBytes(s.cluster.IP)
	clusterLast := new(big.Int).Add(base, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits-s.clusterBits)), big.NewInt(1)))
	if first.Cmp(base) < 0 {
		first = base
	}
	if last.Cmp(clusterLast) > 0 {
		last = clusterLast
	}
	begin = int(new(big.Int).Rsh(new(big.Int).Sub(first, base), shift).Int64())
	end = int(new(big.Int).Rsh(new(big.Int).Sub(last, base), shift).Int64())
	return begin, end, nil
}

// allocateNext takes the next free subnet.
func (s *cidrSet) allocateNext() (*net.IPNet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.allocated == s.max {
		return nil, errNoCIDRsRemaining
	}
	candidate := s.nextCandidate
	for range s.max {
		if s.used.Bit(candidate) == 0 {
			break
		}
		candidate = (candidate + 1) % s.max
	}
	s.nextCandidate = (candidate + 1) % s.max
	s.used.SetBit(&s.used, candidate, 1)
	s.allocated++
	return s.subnet(candidate), nil
}

// occupy marks cidr (and every node subnet it overlaps) as taken.
func (s *cidrSet) occupy(cidr *net.IPNet) error {
	begin, end, err := s.indexRange(cidr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := begin; i <= end; i++ {
		if s.used.Bit(i) == 0 {
			s.used.SetBit(&s.used, i, 1)
			s.allocated++
		}
	}
	return nil
}

func (s *cidrSet) release(cidr *net.IPNet) error {
	begin, end, err := s.indexRange(cidr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := begin; i <= end; i++ {
		if s.used.Bit(i) == 1 {
			s.used.SetBit(&s.used, i, 0)
			s.allocated--
		}
	}
	return nil
}
