// Command images builds the container images the Kubernetes v1.37.0
// conformance specs pull, under their exact names, as OCI image-layout
// tarballs, so the suite runs with no registry at all:
//
//	go run ./conformance/images [--out conformance/images/out] [--only agnhost,pause] [--verify]
//
// Go binaries (agnhost, etcd, sample-apiserver, nnp, pause) are built
// static from conformance/suite and skiff's module; the shell userland
// comes from Debian packages fetched with apt-get download and unpacked
// with dpkg-deb, never installed. Layers are deterministic: two builds of
// the same inputs give the same digests. --verify then unpacks each
// tarball and runs its checks under chroot (root only). Import into
// containerd with `ctr -n k8s.io images import FILE`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	var (
		out    = flag.String("out", "", "directory for the image tarballs (default conformance/images/out in the checkout)")
		cache  = flag.String("cache", "", "directory for downloaded packages and built binaries (default OUT/cache)")
		only   = flag.String("only", "", "comma-separated images to build, by name (agnhost) or name:tag (agnhost:2.55); default all")
		verify = flag.Bool("verify", false, "unpack each image and run its checks under chroot (needs root)")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *out, *cache, *only, *verify); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, cache, only string, verify bool) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := repoRoot(wd)
	if err != nil {
		return err
	}
	if out == "" {
		out = filepath.Join(root, "conformance", "images", "out")
	}
	opts := options{repoRoot: root, outDir: out, cacheDir: cache, log: os.Stdout}
	if only != "" {
		opts.only = strings.Split(only, ",")
	}
	start := time.Now()
	results, err := build(ctx, opts)
	if err != nil {
		return err
	}
	var total int64
	fmt.Println()
	for _, r := range results {
		total += r.size
		fmt.Printf("%-56s %s %7.1f MB %5.1fs  %s\n", r.spec.ref, r.digest, float64(r.size)/1e6, r.elapsed.Seconds(), filepath.Base(r.file))
	}
	fmt.Printf("%d images, %.1f MB, built in %s\n", len(results), float64(total)/1e6, time.Since(start).Round(100*time.Millisecond))
	if !verify {
		return nil
	}
	vstart := time.Now()
	scratch := opts.cacheDir
	if scratch == "" {
		scratch = filepath.Join(out, "cache")
	}
	for _, r := range results {
		if err := verifyImage(ctx, r.file, r.spec, scratch); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		fmt.Printf("verified %s (%d checks)\n", r.spec.ref, len(r.spec.checks))
	}
	fmt.Printf("%d images verified in %s\n", len(results), time.Since(vstart).Round(100*time.Millisecond))
	return nil
}

// repoRoot finds skiff's checkout from dir upwards: the directory whose
// go.mod declares module github.com/skiff-dev/skiff.
func repoRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module github.com/skiff-dev/skiff\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("not inside skiff's checkout: no go.mod of module github.com/skiff-dev/skiff above " + dir)
		}
	}
}
