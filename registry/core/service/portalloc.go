package service

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	storeerr "k8s.io/apiserver/pkg/storage/errors"
)

// nodePortsKey is where upstream keeps the NodePort bitmap, below the
// storage prefix (/registry).
const nodePortsKey = "/ranges/servicenodeports"

var nodePortsResource = schema.GroupResource{Resource: "servicenodeportallocations"}

// Errors of the NodePort allocator, worded as upstream's portallocator.
var (
	errPortFull          = errors.New("range is full")
	errPortAllocated     = errors.New("provided port is already allocated")
	errPortRangeMismatch = errors.New("the provided range does not match the current range")
)

type errPortNotInRange struct{ validPorts string }

func (e *errPortNotInRange) Error() string {
	return fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %s", e.validPorts)
}

// portAllocator keeps the NodePort bitmap in a RangeAllocation object in the
// datastore, in upstream's encoding: bit i of a big-endian integer is port
// Base+i. Every change is a compare-and-swap on that object, so API servers
// sharing a datastore never hand out a port twice.
type portAllocator struct {
	ports   PortRange
	offset  int // low ports kept for static allocation, as upstream
	storage storage.Interface
}

func newPortAllocator(optsGetter generic.RESTOptionsGetter, ports PortRange) (*portAllocator, error) {
	opts, err := optsGetter.GetRESTOptions(nodePortsResource, &corev1.RangeAllocation{})
	if err != nil {
		return nil, fmt.Errorf("storage for the NodePort range: %w", err)
	}
	s, _, err := generic.NewRawStorage(opts.StorageConfig, func() runtime.Object { return &corev1.RangeAllocation{} }, nil, nodePortsKey)
	if err != nil {
		return nil, fmt.Errorf("storage for the NodePort range: %w", err)
	}
	return &portAllocator{ports: ports, offset: portRangeOffset(ports.Size), storage: s}, nil
}

// portRangeOffset is min(max(16, size/32), 128), 0 for tiny ranges.
func portRangeOffset(size int) int {
	switch {
	case size <= 16:
		return 0
	case size/32 < 16:
		return 16
	case size/32 > 128:
		return 128
	}
	return size / 32
}

// update applies fn to the stored bitmap and writes it back.
func (p *portAllocator) update(ctx context.Context, fn func(bits *big.Int) error) error {
	err := p.storage.GuaranteedUpdate(ctx, nodePortsKey, &corev1.RangeAllocation{}, true, nil,
		storage.SimpleUpdate(func(in runtime.Object) (runtime.Object, error) {
			ra := in.(*corev1.RangeAllocation)
			if ra.Range == "" {
				ra.Range = p.ports.String()
			}
			if ra.Range != p.ports.String() {
				// The repair loop rewrites the bitmap for the configured range.
				return nil, errPortRangeMismatch
			}
			bits := new(big.Int).SetBytes(ra.Data)
			if err := fn(bits); err != nil {
				return nil, err
			}
			ra.Data = bits.Bytes()
			return ra, nil
		}), nil)
	return storeerr.InterpretUpdateError(err, nodePortsResource, "")
}

// get reads the stored bitmap; an absent one is empty.
func (p *portAllocator) get(ctx context.Context) (*corev1.RangeAllocation, error) {
	ra := &corev1.RangeAllocation{}
	if err := p.storage.Get(ctx, nodePortsKey, storage.GetOptions{IgnoreNotFound: true}, ra); err != nil {
		return nil, storeerr.InterpretGetError(err, nodePortsResource, "")
	}
	return ra, nil
}

func (p *portAllocator) allocate(ctx context.Context, port int) error {
	if !p.ports.contains(port) {
		return &errPortNotInRange{validPorts: p.ports.String()}
	}
	return p.update(ctx, func(bits *big.Int) error {
		i := port - p.ports.Base
		if bits.Bit(i) == 1 {
			return errPortAllocated
		}
		bits.SetBit(bits, i, 1)
		return nil
	})
}

func (p *portAllocator) allocateNext(ctx context.Context) (int, error) {
	var port int
	err := p.update(ctx, func(bits *big.Int) error {
		i, ok := p.pick(bits)
		if !ok {
			return errPortFull
		}
		bits.SetBit(bits, i, 1)
		port = p.ports.Base + i
		return nil
	})
	return port, err
}

// pick finds a free bit from a random start in the upper part of the range,
// falling back to the lower part, as upstream's random scan does.
func (p *portAllocator) pick(bits *big.Int) (int, bool) {
	upper := p.ports.Size - p.offset
	start := rand.IntN(upper)
	for i := 0; i < upper; i++ {
		if at := p.offset + (start+i)%upper; bits.Bit(at) == 0 {
			return at, true
		}
	}
	if p.offset == 0 {
		return 0, false
	}
	start = rand.IntN(p.offset)
	for i := 0; i < p.offset; i++ {
		if at := (start + i) % p.offset; bits.Bit(at) == 0 {
			return at, true
		}
	}
	return 0, false
}

func (p *portAllocator) release(ctx context.Context, port int) error {
	if !p.ports.contains(port) {
		return nil
	}
	return p.update(ctx, func(bits *big.Int) error {
		bits.SetBit(bits, port-p.ports.Base, 0)
		return nil
	})
}

func (p *portAllocator) has(ctx context.Context, port int) (bool, error) {
	if !p.ports.contains(port) {
		return false, nil
	}
	ra, err := p.get(ctx)
	if err != nil {
		return false, err
	}
	return new(big.Int).SetBytes(ra.Data).Bit(port-p.ports.Base) == 1, nil
}

// portOperation groups the NodePort changes of one request: allocations take
// effect at once and are undone if the request fails; releases wait for
// the request to succeed.
type portOperation struct {
	alloc     *portAllocator
	dryRun    bool
	allocated []int
	deferred  []int
	committed bool
}

func (p *portAllocator) start(dryRun bool) *portOperation {
	return &portOperation{alloc: p, dryRun: dryRun}
}

func (op *portOperation) allocate(ctx context.Context, port int) error {
	if op.dryRun {
		// Like upstream, a dry run only looks for conflicts.
		has, err := op.alloc.has(ctx, port)
		if err != nil {
			return err
		}
		for _, a := range op.allocated {
			has = has || a == port
		}
		if has {
			return errPortAllocated
		}
		op.allocated = append(op.allocated, port)
		return nil
	}
	if err := op.alloc.allocate(ctx, port); err != nil {
		return err
	}
	op.allocated = append(op.allocated, port)
	return nil
}

func (op *portOperation) allocateNext(ctx context.Context) (int, error) {
	if op.dryRun {
		// Upstream does not search on a dry run: it counts up from the
		// highest port of this request, or from 32769.
		last := 32768
		if len(op.allocated) > 0 {
			last = 0
		}
		for _, a := range op.allocated {
			last = max(last, a)
		}
		op.allocated = append(op.allocated, last+1)
		return last + 1, nil
	}
	port, err := op.alloc.allocateNext(ctx)
	if err != nil {
		return 0, err
	}
	op.allocated = append(op.allocated, port)
	return port, nil
}

func (op *portOperation) releaseDeferred(port int) { op.deferred = append(op.deferred, port) }

// commit performs the deferred releases.
func (op *portOperation) commit(ctx context.Context) {
	op.committed = true
	if op.dryRun {
		return
	}
	for _, port := range op.deferred {
		if err := op.alloc.release(ctx, port); err != nil {
			logReleaseError("node port", port, err)
		}
	}
}

// finish undoes the allocations of an operation that was not committed.
func (op *portOperation) finish(ctx context.Context) {
	if op.committed || op.dryRun {
		return
	}
	for _, port := range op.allocated {
		if err := op.alloc.release(ctx, port); err != nil {
			logReleaseError("node port", port, err)
		}
	}
}
