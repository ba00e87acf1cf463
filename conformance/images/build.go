package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// options is what one run builds and where.
type options struct {
	// repoRoot is skiff's checkout; the suite module and the pause program
	// are found from it.
	repoRoot string
	// outDir receives one <name>-<tag>.tar per image.
	outDir string
	// cacheDir keeps downloaded .debs, their unpacked trees and the Go
	// binaries between runs.
	cacheDir string
	// only selects images by short name ("agnhost") or name:tag
	// ("agnhost:2.55"); empty means all.
	only []string
	// log receives progress lines; nil discards them.
	log io.Writer
}

// builder builds layers once per run and shares them between the images
// that stack them.
type builder struct {
	opts     options
	suiteDir string
	k8sDir   string // k8s.io/kubernetes in the module cache: fixtures of test/images
	blobDir  string
	deb      *debian
	bins     map[string]string
	layers   map[string]layerBlob
}

// result is one image written.
type result struct {
	spec    imageSpec
	file    string
	digest  string
	size    int64
	elapsed time.Duration
}

func (b *builder) logf(format string, args ...any) {
	if b.opts.log != nil {
		fmt.Fprintf(b.opts.log, format+"\n", args...)
	}
}

// build writes the selected images and returns them in catalog order.
func build(ctx context.Context, opts options) ([]result, error) {
	specs, err := selectImages(catalog(), opts.only)
	if err != nil {
		return nil, err
	}
	if opts.cacheDir == "" {
		opts.cacheDir = filepath.Join(opts.outDir, "cache")
	}
	if err := os.MkdirAll(opts.outDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.cacheDir, 0o755); err != nil {
		return nil, err
	}
	blobDir, err := os.MkdirTemp(opts.cacheDir, "blobs-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(blobDir)
	b := &builder{
		opts:     opts,
		suiteDir: filepath.Join(opts.repoRoot, "conformance", "suite"),
		blobDir:  blobDir,
		deb:      newDebian(opts.cacheDir),
		bins:     map[string]string{},
		layers:   map[string]layerBlob{},
	}
	var results []result
	for _, s := range specs {
		start := time.Now()
		r, err := b.buildImage(ctx, s)
		if err != nil {
			return results, fmt.Errorf("image %s: %w", s.ref, err)
		}
		r.elapsed = time.Since(start)
		results = append(results, r)
	}
	return results, nil
}

func (b *builder) buildImage(ctx context.Context, s imageSpec) (result, error) {
	var blobs []layerBlob
	for _, name := range s.layers {
		lb, err := b.layer(ctx, name)
		if err != nil {
			return result{}, err
		}
		blobs = append(blobs, lb)
	}
	if s.top != nil {
		l := NewLayer(s.shortName() + " files")
		if err := s.top(ctx, b, l); err != nil {
			return result{}, err
		}
		lb, err := l.writeBlob(b.blobDir)
		if err != nil {
			return result{}, err
		}
		blobs = append(blobs, lb)
	}
	file := filepath.Join(b.opts.outDir, s.fileName())
	tmp, err := os.CreateTemp(b.opts.outDir, s.fileName()+".*.tmp")
	if err != nil {
		return result{}, err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<20)
	desc, err := writeImage(w, s.ref, s.config, blobs)
	if err == nil {
		err = w.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return result{}, err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return result{}, err
	}
	st, err := os.Stat(file)
	if err != nil {
		return result{}, err
	}
	return result{spec: s, file: file, digest: desc.Digest, size: st.Size()}, nil
}

// layer returns the named shared layer, building it on first use.
func (b *builder) layer(ctx context.Context, name string) (layerBlob, error) {
	if lb, ok := b.layers[name]; ok {
		return lb, nil
	}
	fill, ok := sharedLayers[name]
	if !ok {
		return layerBlob{}, fmt.Errorf("no layer named %q", name)
	}
	start := time.Now()
	l := NewLayer(name)
	if err := fill(ctx, b, l); err != nil {
		return layerBlob{}, fmt.Errorf("layer %s: %w", name, err)
	}
	lb, err := l.writeBlob(b.blobDir)
	if err != nil {
		return layerBlob{}, err
	}
	b.logf("  layer %-17s %s %7.1f MB %5.1fs", name, lb.desc.Digest[:19], float64(lb.desc.Size)/1e6, time.Since(start).Seconds())
	b.layers[name] = lb
	return lb, nil
}

// A goProgram is a static Go binary built for an image.
type goProgram struct {
	// inSuite builds it in conformance/suite (which pins k8s.io/kubernetes
	// and its staging modules), otherwise in skiff's own module.
	inSuite bool
	pkg     string
	ldflags string
}

var goPrograms = map[string]goProgram{
	"agnhost":          {inSuite: true, pkg: "k8s.io/kubernetes/test/images/agnhost", ldflags: "-X main.Version=" + agnhostVersion},
	"etcd":             {inSuite: true, pkg: "go.etcd.io/etcd/server/v3"},
	"sample-apiserver": {inSuite: true, pkg: "k8s.io/sample-apiserver"},
	"nnp":              {inSuite: true, pkg: "k8s.io/kubernetes/test/images/nonewprivs"},
	"pause":            {pkg: "./conformance/images/pause"},
}

// goBinary builds the named program once per run. The go command keeps
// the output up to date itself: with a warm build cache an unchanged
// binary is not even relinked.
func (b *builder) goBinary(ctx context.Context, name string) (string, error) {
	if p, ok := b.bins[name]; ok {
		return p, nil
	}
	prog, ok := goPrograms[name]
	if !ok {
		return "", fmt.Errorf("no Go program named %q", name)
	}
	out, err := filepath.Abs(filepath.Join(b.opts.cacheDir, "bin", name))
	if err != nil {
		return "", err
	}
	dir := b.opts.repoRoot
	if prog.inSuite {
		dir = b.suiteDir
	}
	start := time.Now()
	// -trimpath and -buildvcs=false: no host path and no checkout state in
	// the binary, so the layer digest is the same on every machine.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", strings.TrimSpace("-s -w "+prog.ldflags), "-o", out, prog.pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s (in %s): %w\n%s", prog.pkg, dir, err, msg)
	}
	deps, err := elfDeps(out)
	if err != nil {
		return "", fmt.Errorf("%s: %w", out, err)
	}
	if len(deps) > 0 {
		return "", fmt.Errorf("%s is not static: it needs %s", name, strings.Join(deps, ", "))
	}
	b.logf("  go build %-14s %5.1fs", name, time.Since(start).Seconds())
	b.bins[name] = out
	return out, nil
}

// kubernetesDir is k8s.io/kubernetes's directory in the module cache, as
// the suite module resolves it.
func (b *builder) kubernetesDir(ctx context.Context) (string, error) {
	if b.k8sDir != "" {
		return b.k8sDir, nil
	}
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/kubernetes")
	cmd.Dir = b.suiteDir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m k8s.io/kubernetes in %s: %w%s", b.suiteDir, err, stderrOf(err))
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", errors.New("k8s.io/kubernetes is not in the module cache (go mod download in conformance/suite)")
	}
	b.k8sDir = dir
	return dir, nil
}

// busyboxApplets lists the applets of the busybox binary by running it:
// the build machine is linux/amd64 like the image.
func busyboxApplets(ctx context.Context, busybox string) ([]string, error) {
	out, err := exec.CommandContext(ctx, busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w%s", busybox, err, stderrOf(err))
	}
	var applets []string
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" && !strings.Contains(a, "/") {
			applets = append(applets, a)
		}
	}
	if len(applets) < 100 {
		return nil, fmt.Errorf("%s --list printed only %d applets", busybox, len(applets))
	}
	return applets, nil
}
