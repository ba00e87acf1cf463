package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/k3s-io/kine/pkg/drivers"
	_ "github.com/k3s-io/kine/pkg/drivers/mysql" // registers mysql://
	_ "github.com/k3s-io/kine/pkg/drivers/pgsql" // registers postgres:// and postgresql://
	"github.com/k3s-io/kine/pkg/drivers/sqlite"
	kineserver "github.com/k3s-io/kine/pkg/server"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"k8s.io/klog/v2"
)

// emulatedEtcdVersion is what kine reports as its etcd version. The apiserver
// enables watch progress requests only for etcd versions that support them.
const emulatedEtcdVersion = "3.6.11"

// Datastore is the storage the API server writes to: a kine backend served over
// a local etcd-compatible gRPC socket, or an etcd cluster used directly.
type Datastore struct {
	// Endpoints are the etcd client URLs for the API server's storage backend.
	Endpoints []string
	stop      func()
	wg        *sync.WaitGroup
}

// Close stops the in-process kine server and waits for its backend to finish.
func (d *Datastore) Close() {
	if d.stop != nil {
		d.stop()
		d.wg.Wait()
	}
}

// StartDatastore starts kine in-process (stopped by Close, once the API
// server no longer needs it) for endpoint ("" means SQLite under
// dbDir) and serves it on a unix socket in socketDir. An http(s):// endpoint is
// an etcd cluster and is returned as is.
func StartDatastore(endpoint, dbDir, socketDir string) (*Datastore, error) {
	if strings.HasPrefix(endpoint, "http://") || strings.HasPrefix(endpoint, "https://") {
		return &Datastore{Endpoints: strings.Split(endpoint, ",")}, nil
	}

	cfg := &drivers.Config{
		PollInterval:   time.Second,
		CompactTimeout: 5 * time.Second,
		// The API server's compactor compacts every 5 minutes to the revision
		// it saw one interval before, as on etcd; clients (continue tokens,
		// watches) count on history older than that being gone. Kine's own
		// floor of N recent revisions would keep it longer on a quiet cluster.
		CompactMinRetain: 0,
		CompactBatchSize: 1000,
		PollBatchSize:    500,
	}
	if endpoint == "" || strings.HasPrefix(endpoint, "sqlite://") {
		path := strings.TrimPrefix(endpoint, "sqlite://")
		if path == "" {
			if err := os.MkdirAll(dbDir, 0o700); err != nil {
				return nil, fmt.Errorf("creating datastore directory: %w", err)
			}
			path = filepath.Join(dbDir, "state.db")
		}
		// Kine applies its WAL, busy-timeout and locking parameters only to an
		// empty DSN, so they are added here.
		if !strings.Contains(path, "?") {
			path += "?" + sqlite.DefaultParams
		}
		cfg.Endpoint = "sqlite://" + path
	} else {
		if !strings.Contains(endpoint, "://") {
			return nil, fmt.Errorf("datastore endpoint %q: want a URL such as sqlite:///path, postgres://, mysql:// or http(s):// for etcd", endpoint)
		}
		cfg.Endpoint = endpoint
	}

	bctx, cancel := context.WithCancel(context.Background())
	wg := &sync.WaitGroup{}
	_, backend, err := drivers.New(bctx, wg, cfg)
	if err != nil {
		cancel()
		if errors.Is(err, drivers.ErrUnknownDriver) {
			return nil, fmt.Errorf("datastore endpoint: unknown scheme (use sqlite://, postgres://, mysql:// or http(s):// for etcd): %w", err)
		}
		return nil, fmt.Errorf("opening datastore: %w", err)
	}
	if err := backend.Start(bctx); err != nil {
		cancel()
		return nil, fmt.Errorf("starting datastore: %w", err)
	}

	if err := os.MkdirAll(socketDir, 0o700); err != nil {
		cancel()
		return nil, fmt.Errorf("creating datastore socket directory: %w", err)
	}
	sock := filepath.Join(socketDir, "kine.sock")
	if err := os.Remove(sock); err != nil && !os.IsNotExist(err) {
		cancel()
		return nil, fmt.Errorf("removing stale datastore socket: %w", err)
	}
	lis, err := net.Listen("unix", sock)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("listening on datastore socket: %w", err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		cancel()
		return nil, fmt.Errorf("securing datastore socket: %w", err)
	}
	gs := grpc.NewServer(
		grpc.MaxRecvMsgSize(2*1024*1024+4096),
		grpc.MaxSendMsgSize(1<<31-1),
		// The API server's etcd client pings idle connections; allow it as etcd
		// does, or the connection is dropped with "too_many_pings".
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)
	kineserver.New(backend, "unix", 5*time.Second, emulatedEtcdVersion).Register(gs)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := gs.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			klog.ErrorS(err, "Datastore gRPC server stopped")
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			// Watches never end by themselves, so a graceful stop gets a deadline.
			t := time.AfterFunc(5*time.Second, gs.Stop)
			defer t.Stop()
			gs.GracefulStop()
			cancel()
		})
	}
	return &Datastore{Endpoints: []string{"unix://" + sock}, stop: stop, wg: wg}, nil
}
