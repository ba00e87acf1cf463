package server

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestDatastoreCompactsLikeEtcd: a compaction reaches the revision asked
// for even when only a few revisions follow it, so an old revision reads as
// compacted (the API server then answers 410 Expired for its continue
// tokens, as the chunking conformance spec expects).
func TestDatastoreCompactsLikeEtcd(t *testing.T) {
	dir := t.TempDir()
	ds, err := StartDatastore("", dir, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	c, err := clientv3.New(clientv3.Config{Endpoints: ds.Endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var revs []int64
	for i := range 5 {
		// Kine's create is a transaction on the key's absence.
		key := fmt.Sprintf("/registry/test/%d", i)
		r, err := c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).Then(clientv3.OpPut(key, "v")).Commit()
		if err != nil || !r.Succeeded {
			t.Fatalf("create %s: %v (succeeded %v)", key, err, r != nil && r.Succeeded)
		}
		revs = append(revs, r.Header.Revision)
	}
	// Overwrite key 0 so that its first version is history (in the form of
	// the API server's update, which is what kine takes).
	g, err := c.Get(ctx, "/registry/test/0")
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision("/registry/test/0"), "=", g.Kvs[0].ModRevision)).
		Then(clientv3.OpPut("/registry/test/0", "v2")).Else(clientv3.OpGet("/registry/test/0")).Commit()
	if err != nil || !u.Succeeded {
		t.Fatalf("update: %v", err)
	}

	if _, err := c.Get(ctx, "/registry/test/0", clientv3.WithRev(revs[0])); err != nil {
		t.Fatalf("read at revision %d before compaction: %v", revs[0], err)
	}
	if _, err := c.Compact(ctx, revs[2]); err != nil {
		t.Fatalf("compact to %d: %v", revs[2], err)
	}
	_, err = c.Get(ctx, "/registry/test/0", clientv3.WithRev(revs[0]))
	if !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("read at revision %d after compacting to %d: %v, want %v", revs[0], revs[2], err, rpctypes.ErrCompacted)
	}
	// The newest revisions still read.
	if _, err := c.Get(ctx, "/registry/test/4", clientv3.WithRev(revs[4])); err != nil {
		t.Fatalf("read at revision %d: %v", revs[4], err)
	}
}
