package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// flatten applies an image's layers in order and returns its final
// filesystem view, path -> entry.
func flatten(t *testing.T, a *ociArchive) map[string]tarEntry {
	t.Helper()
	fsView := map[string]tarEntry{}
	for _, l := range a.Layers {
		_, entries := readTar(t, l)
		for name, e := range entries {
			fsView["/"+strings.TrimSuffix(name, "/")] = e
		}
	}
	return fsView
}

// TestBuildAndRun builds pause, busybox and glibc-dns-testing for real
// (Debian packages come from apt-get download, cached in out/cache),
// checks their files, that a second build is byte-identical, and runs
// each image's checks under chroot. It needs root and Debian's package
// lists (apt-get update), and fails without them.
func TestBuildAndRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs the built images under chroot and must run as root")
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := repoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cache, err := filepath.Abs("out/cache")
	if err != nil {
		t.Fatal(err)
	}
	only := []string{"pause", "busybox", "glibc-dns-testing"}
	var logs bytes.Buffer
	build1 := func(out string) []result {
		res, err := build(ctx, options{repoRoot: root, outDir: out, cacheDir: cache, only: only, log: &logs})
		if err != nil {
			t.Fatalf("build: %v\n%s", err, logs.String())
		}
		return res
	}
	first := build1(t.TempDir())
	second := build1(t.TempDir())
	if len(first) != 3 {
		t.Fatalf("built %d images, want 3", len(first))
	}
	byName := map[string]*ociArchive{}
	for i, r := range first {
		if r.digest != second[i].digest {
			t.Errorf("%s: digest %s, then %s on rebuild", r.spec.ref, r.digest, second[i].digest)
		}
		b1, err := os.ReadFile(r.file)
		if err != nil {
			t.Fatal(err)
		}
		b2, err := os.ReadFile(second[i].file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Errorf("%s: the two tarballs differ", r.spec.ref)
		}
		a, err := readImage(r.file)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Index.Manifests[0].Annotations[annotationContainerdName]; got != r.spec.ref {
			t.Errorf("%s: containerd name %q", r.spec.ref, got)
		}
		name, _, _ := strings.Cut(r.spec.shortName(), ":")
		byName[name] = a
	}

	t.Run("pause", func(t *testing.T) {
		a := byName["pause"]
		if c := a.Config.Config; !slices.Equal(c.Entrypoint, []string{"/pause"}) || c.User != "65535:65535" {
			t.Errorf("config %+v", c)
		}
		p, ok := flatten(t, a)["/pause"]
		if !ok || p.hdr.Typeflag != tar.TypeReg || p.hdr.Mode != 0o755 {
			t.Fatalf("/pause: %+v", p.hdr)
		}
		ef, err := elf.NewFile(bytes.NewReader([]byte(p.data)))
		if err != nil {
			t.Fatalf("/pause is not ELF: %v", err)
		}
		if ef.Machine != elf.EM_X86_64 {
			t.Errorf("/pause is for %v", ef.Machine)
		}
		for _, prog := range ef.Progs {
			if prog.Type == elf.PT_INTERP {
				t.Error("/pause has a program interpreter: not static")
			}
		}
	})

	t.Run("busybox", func(t *testing.T) {
		view := flatten(t, byName["busybox"])
		if bb := view["/bin/busybox"]; bb.hdr == nil || bb.hdr.Typeflag != tar.TypeReg || bb.hdr.Mode != 0o755 {
			t.Fatalf("/bin/busybox missing or wrong: %+v", bb.hdr)
		}
		links := 0
		for p, e := range view {
			if path.Dir(p) == "/bin" && e.hdr.Typeflag == tar.TypeSymlink && e.hdr.Linkname == "busybox" {
				links++
			}
		}
		if links < 200 {
			t.Errorf("%d applet links in /bin, want every applet", links)
		}
		for _, applet := range []string{"sh", "false", "wget", "sleep", "id", "nslookup"} {
			if e := view["/bin/"+applet]; e.hdr == nil || e.hdr.Linkname != "busybox" {
				t.Errorf("/bin/%s is not a busybox applet link", applet)
			}
		}
		if tmp := view["/tmp"]; tmp.hdr == nil || tmp.hdr.Mode != 0o1777 {
			t.Errorf("/tmp: %+v", tmp.hdr)
		}
		if c := byName["busybox"].Config.Config; !slices.Equal(c.Cmd, []string{"sh"}) {
			t.Errorf("config %+v", c)
		}
	})

	t.Run("glibc-dns-testing", func(t *testing.T) {
		view := flatten(t, byName["glibc-dns-testing"])
		for p, target := range map[string]string{
			"/bin/sh":                     "dash",
			"/bin/nc":                     "nc.openbsd",
			"/lib64/ld-linux-x86-64.so.2": "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
		} {
			if e := view[p]; e.hdr == nil || e.hdr.Linkname != target {
				t.Errorf("%s should link to %s", p, target)
			}
		}
		for _, p := range []string{"/bin/dash", "/usr/bin/dig", "/usr/bin/nslookup", "/usr/bin/curl", "/usr/bin/getent",
			"/lib/x86_64-linux-gnu/libc.so.6", "/etc/nsswitch.conf"} {
			if e := view[p]; e.hdr == nil || e.hdr.Typeflag != tar.TypeReg {
				t.Errorf("%s is missing", p)
			}
		}
		if pw := view["/etc/passwd"].data; !strings.Contains(pw, "user-defined-in-image:x:1000:") {
			t.Errorf("/etc/passwd lacks uid 1000:\n%s", pw)
		}
		if g := view["/etc/group"].data; !strings.Contains(g, "group-defined-in-image:x:50000:user-defined-in-image") {
			t.Errorf("/etc/group lacks gid 50000:\n%s", g)
		}
	})

	// Under the cache, not /tmp: a noexec or nosuid /tmp would fail the checks.
	scratch, err := os.MkdirTemp(cache, "test-scratch-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(scratch) })
	for _, r := range first {
		t.Run("chroot/"+r.spec.shortName(), func(t *testing.T) {
			if err := verifyImage(ctx, r.file, r.spec, scratch); err != nil {
				t.Fatal(err)
			}
		})
	}
}
