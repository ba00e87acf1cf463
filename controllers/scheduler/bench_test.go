package scheduler

import (
	"fmt"
	"math/rand/v2"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
)

// BenchmarkScheduleOn1000Nodes is one scheduling cycle (snapshot update,
// filters over the adaptive share of nodes, scores, assume) on 1,000
// nodes, without the API server.
func BenchmarkScheduleOn1000Nodes(b *testing.B) {
	c := newCache()
	for i := range 1000 {
		n := testNode(fmt.Sprintf("node-%04d", i), "32")
		n.Labels[v1.LabelTopologyZone] = fmt.Sprintf("zone-%d", i%3)
		n.Status.Allocatable[v1.ResourceMemory] = resource.MustParse("128Gi")
		c.upsertNode(n)
	}
	snap := newSnapshot()
	alg := &algorithm{nsLabels: noLabels, namespacesMatching: noNamespaces, rand: rand.New(rand.NewPCG(1, 2))}
	b.ResetTimer()
	for i := range b.N {
		pod := testPod(fmt.Sprintf("p-%d", i), "100m")
		pod.UID = types.UID(pod.Name)
		c.update(snap)
		res, _, err := alg.schedule(pod, snap)
		if err != nil {
			b.Fatal(err)
		}
		pod.Spec.NodeName = res.node
		c.assume(pod)
		if i%100_000 == 99_999 {
			b.StopTimer()
			c = newCache()
			for j := range 1000 {
				c.upsertNode(testNode(fmt.Sprintf("node-%04d", j), "32"))
			}
			snap = newSnapshot()
			b.StartTimer()
		}
	}
}
