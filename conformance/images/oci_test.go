package main

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tarEntry is what a test reads back of one tar header.
type tarEntry struct {
	hdr  *tar.Header
	data string
}

func readTar(t *testing.T, data []byte) ([]string, map[string]tarEntry) {
	t.Helper()
	var names []string
	m := map[string]tarEntry{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, m
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		m[h.Name] = tarEntry{hdr: h, data: string(b)}
	}
}

func sampleLayer(t *testing.T, hostDir string) *Layer {
	t.Helper()
	src := filepath.Join(hostDir, "payload")
	if err := os.WriteFile(src, []byte("from the host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := NewLayer("sample")
	l.File("/usr/bin/tool", 0o755, []byte("#!/bin/sh\necho tool\n"))
	l.CopyFile("etc/payload", 0o644, src)
	l.Symlink("/bin/sh", "dash")
	l.Dir("/tmp", 0o777|fs.ModeSticky)
	l.CopyFile("/usr/local/bin/nnp", 0o755|fs.ModeSetuid, src)
	l.Dir("/root", 0o700)
	return l
}

func TestLayerTar(t *testing.T) {
	l := sampleLayer(t, t.TempDir())
	var buf bytes.Buffer
	if err := l.WriteTar(&buf); err != nil {
		t.Fatal(err)
	}
	names, entries := readTar(t, buf.Bytes())
	want := []string{"bin/", "bin/sh", "etc/", "etc/payload", "root/", "tmp/", "usr/", "usr/bin/", "usr/bin/tool",
		"usr/local/", "usr/local/bin/", "usr/local/bin/nnp"}
	if !slices.Equal(names, want) {
		t.Fatalf("entries:\n got %q\nwant %q", names, want)
	}
	for _, tc := range []struct {
		name   string
		typ    byte
		mode   int64
		link   string
		data   string
		parent bool
	}{
		{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "bin/sh", typ: tar.TypeSymlink, mode: 0o777, link: "dash"},
		{name: "etc/payload", typ: tar.TypeReg, mode: 0o644, data: "from the host\n"},
		{name: "root/", typ: tar.TypeDir, mode: 0o700},
		{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		{name: "usr/bin/tool", typ: tar.TypeReg, mode: 0o755, data: "#!/bin/sh\necho tool\n"},
		{name: "usr/local/bin/nnp", typ: tar.TypeReg, mode: 0o4755, data: "from the host\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := entries[tc.name]
			h := e.hdr
			if h.Typeflag != tc.typ || h.Mode != tc.mode || h.Linkname != tc.link || e.data != tc.data {
				t.Errorf("got type %q mode %o link %q data %q; want type %q mode %o link %q data %q",
					h.Typeflag, h.Mode, h.Linkname, e.data, tc.typ, tc.mode, tc.link, tc.data)
			}
			if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(time.Unix(0, 0)) {
				t.Errorf("owner %d:%d (%q:%q) mtime %v; want 0:0, no names, the epoch", h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
			}
			if len(h.PAXRecords) != 0 {
				t.Errorf("PAX records %v leak host details", h.PAXRecords)
			}
		})
	}
}

func TestLayerRejectsFileAsParent(t *testing.T) {
	l := NewLayer("bad")
	l.File("/a", 0o644, nil)
	l.File("/a/b", 0o644, nil)
	err := l.WriteTar(io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("WriteTar = %v, want an error about a/b inside a file", err)
	}
}

// writeSample writes one image of two layers under dir and returns the
// tarball's path and the manifest descriptor.
func writeSample(t *testing.T, dir string) (string, descriptor) {
	t.Helper()
	base := sampleLayer(t, dir)
	top := NewLayer("top")
	top.File("/IMAGE_VERSION", 0o644, []byte("1.0\n"))
	var blobs []layerBlob
	for _, l := range []*Layer{base, top} {
		lb, err := l.writeBlob(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, lb)
	}
	file := filepath.Join(dir, "img.tar")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg := ImageConfig{
		User:       "65535:65535",
		Env:        []string{defaultPath},
		Entrypoint: []string{"/agnhost"},
		Cmd:        []string{"pause"},
	}
	desc, err := writeImage(f, "registry.k8s.io/e2e-test-images/sample:1.0", cfg, blobs)
	if err != nil {
		t.Fatal(err)
	}
	return file, desc
}

func TestWriteImageReadsBack(t *testing.T) {
	file, desc := writeSample(t, t.TempDir())
	a, err := readImage(file) // checks every digest, size and diff ID
	if err != nil {
		t.Fatal(err)
	}
	if a.Index.MediaType != mediaTypeIndex || a.Manifest.MediaType != mediaTypeManifest || a.Manifest.Config.MediaType != mediaTypeConfig {
		t.Errorf("media types: index %q manifest %q config %q", a.Index.MediaType, a.Manifest.MediaType, a.Manifest.Config.MediaType)
	}
	md := a.Index.Manifests[0]
	if md.Digest != desc.Digest || md.Size != desc.Size {
		t.Errorf("index names manifest %s (%d bytes), writeImage returned %s (%d)", md.Digest, md.Size, desc.Digest, desc.Size)
	}
	for _, k := range []string{annotationRefName, annotationContainerdName} {
		if got := md.Annotations[k]; got != "registry.k8s.io/e2e-test-images/sample:1.0" {
			t.Errorf("annotation %s = %q", k, got)
		}
	}
	c := a.Config
	if c.OS != "linux" || c.Architecture != "amd64" {
		t.Errorf("config platform %s/%s", c.OS, c.Architecture)
	}
	if c.Config.User != "65535:65535" || !slices.Equal(c.Config.Entrypoint, []string{"/agnhost"}) ||
		!slices.Equal(c.Config.Cmd, []string{"pause"}) || !slices.Equal(c.Config.Env, []string{defaultPath}) {
		t.Errorf("config %+v", c.Config)
	}
	if len(a.Layers) != 2 || len(c.History) != 2 || c.History[1].CreatedBy != "top" {
		t.Fatalf("%d layers, history %+v", len(a.Layers), c.History)
	}
	_, top := readTar(t, a.Layers[1])
	if top["IMAGE_VERSION"].data != "1.0\n" {
		t.Errorf("top layer: %+v", top)
	}
	// The layout itself: directories, blobs by digest, then the index.
	if n := len(a.Files); n != 8 || a.Files[0] != "blobs/" || a.Files[1] != "blobs/sha256/" ||
		a.Files[n-2] != "index.json" || a.Files[n-1] != "oci-layout" {
		t.Errorf("archive files %q", a.Files)
	}
}

func TestImageIsDeterministic(t *testing.T) {
	// Different directories, different host mtimes: same bytes.
	d1, d2 := t.TempDir(), t.TempDir()
	f1, desc1 := writeSample(t, d1)
	time.Sleep(10 * time.Millisecond)
	f2, desc2 := writeSample(t, d2)
	b1, err := os.ReadFile(f1)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := os.ReadFile(f2)
	if err != nil {
		t.Fatal(err)
	}
	if desc1.Digest != desc2.Digest || !bytes.Equal(b1, b2) {
		t.Fatalf("two builds differ: %s vs %s", desc1.Digest, desc2.Digest)
	}
	// ...and a change of content changes the digest.
	d3 := t.TempDir()
	l := sampleLayer(t, d3)
	l.File("/usr/bin/tool", 0o755, []byte("changed"))
	lb, err := l.writeBlob(filepath.Join(d3, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := readImage(f1)
	if err != nil {
		t.Fatal(err)
	}
	if lb.desc.Digest == a.Manifest.Layers[0].Digest {
		t.Error("changing a file kept the layer digest")
	}
}

func TestReadImageRejectsCorruption(t *testing.T) {
	file, _ := writeSample(t, t.TempDir())
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	a, err := readImage(file)
	if err != nil {
		t.Fatal(err)
	}
	// Flip one byte inside the config blob: its digest no longer matches.
	cfg := a.Manifest.Config.Digest[len("sha256:"):]
	_, entries := readTar(t, data)
	body := entries["blobs/sha256/"+cfg].data
	i := bytes.Index(data, []byte(body))
	if i < 0 {
		t.Fatal("config blob not found in the archive")
	}
	bad := slices.Clone(data)
	bad[i+2] ^= 0x20
	badFile := filepath.Join(t.TempDir(), "bad.tar")
	if err := os.WriteFile(badFile, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readImage(badFile); err == nil || !strings.Contains(err.Error(), "has digest") {
		t.Fatalf("readImage of a corrupted config = %v, want a digest mismatch", err)
	}
}

// The images of shared/notes/conformance.md section 4, by the names
// `e2e.test --list-images` prints for v1.37.0.
var conformanceImages = []string{
	"registry.k8s.io/e2e-test-images/agnhost:2.66.1",
	"registry.k8s.io/e2e-test-images/agnhost:2.55",
	"registry.k8s.io/e2e-test-images/busybox:1.37.0-2",
	"registry.k8s.io/pause:3.10.2",
	"registry.k8s.io/e2e-test-images/nginx:1.27.0-2",
	"registry.k8s.io/e2e-test-images/nginx:1.28.0-2",
	"registry.k8s.io/e2e-test-images/glibc-dns-testing:2.1.1",
	"registry.k8s.io/e2e-test-images/nautilus:1.8",
	"registry.k8s.io/e2e-test-images/kitten:1.8",
	"registry.k8s.io/e2e-test-images/sample-apiserver:1.29.2",
	"registry.k8s.io/etcd:3.7.0-0",
	"registry.k8s.io/e2e-test-images/nonewprivs:1.4",
}

func TestCatalog(t *testing.T) {
	var refs, files []string
	for _, s := range catalog() {
		refs = append(refs, s.ref)
		files = append(files, s.fileName())
		if len(s.checks) == 0 {
			t.Errorf("%s has no checks", s.ref)
		}
		for _, name := range s.layers {
			if _, ok := sharedLayers[name]; !ok {
				t.Errorf("%s stacks unknown layer %q", s.ref, name)
			}
		}
	}
	if !slices.Equal(refs, conformanceImages) {
		t.Errorf("catalog:\n got %q\nwant %q", refs, conformanceImages)
	}
	slices.Sort(files)
	if len(slices.Compact(files)) != len(refs) {
		t.Errorf("two images share a file name: %q", files)
	}
}

func TestSelectImages(t *testing.T) {
	for _, tc := range []struct {
		only    []string
		want    []string
		wantErr bool
	}{
		{only: nil, want: conformanceImages},
		{only: []string{"agnhost"}, want: conformanceImages[:2]},
		{only: []string{"pause", "agnhost:2.55"}, want: []string{conformanceImages[1], conformanceImages[3]}},
		{only: []string{"registry.k8s.io/etcd:3.7.0-0"}, want: []string{"registry.k8s.io/etcd:3.7.0-0"}},
		{only: []string{"agnhost:9.9"}, wantErr: true},
	} {
		t.Run(strings.Join(tc.only, ","), func(t *testing.T) {
			specs, err := selectImages(catalog(), tc.only)
			if tc.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range specs {
				got = append(got, s.ref)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
