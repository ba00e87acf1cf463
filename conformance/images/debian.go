package main

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// debian holds Debian packages fetched with `apt-get download` and
// unpacked with `dpkg-deb -x` under a cache directory; nothing is
// installed on the host. It answers "which package file is at this image
// path" over all the packages it has unpacked.
type debian struct {
	debDir  string            // downloaded .deb files
	rootDir string            // one unpacked tree per .deb
	roots   map[string]string // package name -> unpacked tree
}

func newDebian(cacheDir string) *debian {
	return &debian{
		debDir:  filepath.Join(cacheDir, "debs"),
		rootDir: filepath.Join(cacheDir, "debroots"),
		roots:   map[string]string{},
	}
}

// libraryDirs are where the dynamic loader of Debian's glibc looks for a
// library without an ld.so.cache, in its order.
var libraryDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// fetch makes the packages and everything they depend on available,
// downloading the candidate version of any not yet in the cache.
func (d *debian) fetch(ctx context.Context, pkgs ...string) error {
	var missing []string
	for _, p := range pkgs {
		if _, ok := d.roots[p]; !ok {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	closure, err := aptClosure(ctx, missing)
	if err != nil {
		return err
	}
	var want []string
	for _, p := range closure {
		if _, ok := d.roots[p]; !ok {
			want = append(want, p)
		}
	}
	cands, err := aptCandidates(ctx, want)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.debDir, 0o755); err != nil {
		return err
	}
	var download []string
	for _, c := range cands {
		if _, err := os.Stat(filepath.Join(d.debDir, c.fileName())); errors.Is(err, fs.ErrNotExist) {
			download = append(download, c.name+"="+c.version)
		}
	}
	if len(download) > 0 {
		// Sandbox user root: the cache may sit where user _apt cannot write.
		args := append([]string{"-q", "-o", "APT::Sandbox::User=root", "download"}, download...)
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Dir = d.debDir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get download %s: %w\n%s\n(the package lists may be missing or stale: run apt-get update)", strings.Join(download, " "), err, out)
		}
	}
	for _, c := range cands {
		root, err := d.unpack(ctx, c.fileName())
		if err != nil {
			return err
		}
		d.roots[c.name] = root
	}
	return nil
}

// unpack extracts a .deb into its own tree once; a half-extracted tree is
// never left under the final name.
func (d *debian) unpack(ctx context.Context, debFile string) (string, error) {
	root := filepath.Join(d.rootDir, strings.TrimSuffix(debFile, ".deb"))
	if _, err := os.Stat(root); err == nil {
		return root, nil
	}
	if err := os.MkdirAll(d.rootDir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(d.rootDir, "unpack-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", filepath.Join(d.debDir, debFile), tmp).CombinedOutput(); err != nil {
		return "", fmt.Errorf("dpkg-deb -x %s: %w\n%s", debFile, err, out)
	}
	if err := os.Rename(tmp, root); err != nil {
		return "", err
	}
	return root, nil
}

// aptClosure returns the packages and their recursive Depends and
// Pre-Depends, as apt resolves them (virtual packages and other
// architectures left out), sorted.
func aptClosure(ctx context.Context, pkgs []string) ([]string, error) {
	args := append([]string{"depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
		"--no-breaks", "--no-replaces", "--no-enhances"}, pkgs...)
	out, err := exec.CommandContext(ctx, "apt-cache", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("apt-cache depends %s: %w%s (run apt-get update if the package lists are missing)", strings.Join(pkgs, " "), err, stderrOf(err))
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" || strings.HasPrefix(line, " ") || strings.ContainsAny(line, "<>:") {
			continue
		}
		seen[line] = true
	}
	for _, p := range pkgs {
		if !seen[p] {
			return nil, fmt.Errorf("apt-cache knows no package %s (run apt-get update?)", p)
		}
	}
	var all []string
	for p := range seen {
		all = append(all, p)
	}
	sort.Strings(all)
	return all, nil
}

type aptPackage struct{ name, version, arch string }

// fileName is the name `apt-get download` gives the package's file.
func (p aptPackage) fileName() string {
	return p.name + "_" + strings.ReplaceAll(p.version, ":", "%3a") + "_" + p.arch + ".deb"
}

// aptCandidates returns the version apt would install of each package.
func aptCandidates(ctx context.Context, pkgs []string) ([]aptPackage, error) {
	if len(pkgs) == 0 {
		return nil, nil
	}
	args := append([]string{"show", "--no-all-versions"}, pkgs...)
	out, err := exec.CommandContext(ctx, "apt-cache", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("apt-cache show %s: %w%s", strings.Join(pkgs, " "), err, stderrOf(err))
	}
	found := map[string]aptPackage{}
	for _, stanza := range strings.Split(string(out), "\n\n") {
		var p aptPackage
		for _, line := range strings.Split(stanza, "\n") {
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				continue
			}
			switch k {
			case "Package":
				p.name = v
			case "Version":
				p.version = v
			case "Architecture":
				p.arch = v
			}
		}
		if p.name != "" {
			found[p.name] = p
		}
	}
	res := make([]aptPackage, 0, len(pkgs))
	for _, name := range pkgs {
		p, ok := found[name]
		if !ok || p.version == "" || p.arch == "" {
			return nil, fmt.Errorf("apt-cache show gave no candidate for %s", name)
		}
		res = append(res, p)
	}
	return res, nil
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}

// lookup finds the image path p in the unpacked packages and returns the
// host path of that file. Packages are searched in name order so the
// answer does not depend on map order.
func (d *debian) lookup(p string) (string, fs.FileInfo, bool) {
	names := make([]string, 0, len(d.roots))
	for n := range d.roots {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		host := filepath.Join(d.roots[n], filepath.FromSlash(p))
		if fi, err := os.Lstat(host); err == nil && !fi.IsDir() {
			return host, fi, true
		}
	}
	return "", nil, false
}

// install adds the image paths to the layer, each with what it needs to
// run: symlinks are followed (link and target both added), and for an ELF
// file its program interpreter and, recursively, every DT_NEEDED library,
// found in libraryDirs across the fetched packages. A library that no
// fetched package ships is an error naming the file that needs it.
func (d *debian) install(l *Layer, paths ...string) error {
	type want struct{ path, neededBy string }
	queue := make([]want, 0, len(paths))
	for _, p := range paths {
		queue = append(queue, want{path: path.Clean(p)})
	}
	done := map[string]bool{}
	for len(queue) > 0 {
		w := queue[0]
		queue = queue[1:]
		if done[w.path] {
			continue
		}
		done[w.path] = true
		host, fi, ok := d.lookup(w.path)
		if !ok {
			if w.neededBy != "" {
				return fmt.Errorf("%s needs %s, which none of the fetched Debian packages ships", w.neededBy, w.path)
			}
			return fmt.Errorf("no fetched Debian package ships %s", w.path)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(host)
			if err != nil {
				return err
			}
			l.Symlink(w.path, target)
			resolved := target
			if !path.IsAbs(target) {
				resolved = path.Join(path.Dir(w.path), target)
			}
			queue = append(queue, want{path: path.Clean(resolved), neededBy: w.path})
			continue
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s in a Debian package is neither a file nor a symlink", w.path)
		}
		l.CopyFile(w.path, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky), host)
		deps, err := elfDeps(host)
		if err != nil {
			return fmt.Errorf("%s: %w", w.path, err)
		}
		for _, dep := range deps {
			if path.IsAbs(dep) {
				queue = append(queue, want{path: dep, neededBy: w.path})
				continue
			}
			lib := ""
			for _, dir := range libraryDirs {
				if _, _, ok := d.lookup(dir + "/" + dep); ok {
					lib = dir + "/" + dep
					break
				}
			}
			if lib == "" {
				return fmt.Errorf("%s needs %s, which none of the fetched Debian packages ships in %s", w.path, dep, strings.Join(libraryDirs, ", "))
			}
			queue = append(queue, want{path: lib, neededBy: w.path})
		}
	}
	return nil
}

// elfDeps returns the program interpreter (an absolute path) and the
// DT_NEEDED sonames of an ELF file, or nothing for any other file.
func elfDeps(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := f.ReadAt(magic, 0); err != nil || !bytes.Equal(magic, []byte(elf.ELFMAG)) {
		return nil, nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, err
	}
	var deps []string
	for _, p := range ef.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		buf := make([]byte, p.Filesz)
		if _, err := p.ReadAt(buf, 0); err != nil {
			return nil, fmt.Errorf("reading PT_INTERP: %w", err)
		}
		deps = append(deps, strings.TrimRight(string(buf), "\x00"))
	}
	needed, err := ef.ImportedLibraries()
	if err != nil {
		return nil, fmt.Errorf("reading DT_NEEDED: %w", err)
	}
	return append(deps, needed...), nil
}
