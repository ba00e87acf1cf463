package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// layerTime is every entry's mtime: a layer's digest must depend on its
// contents only, never on when or where it was built.
var layerTime = time.Unix(0, 0).UTC()

type entryKind int

const (
	kindDir entryKind = iota
	kindFile
	kindSymlink
)

// An entry is one path of a layer. A file's bytes come either from data or
// from a host file (source) read when the layer is written.
type entry struct {
	kind   entryKind
	mode   fs.FileMode // permissions plus fs.ModeSetuid/ModeSetgid/ModeSticky
	target string      // symlink target
	data   []byte
	source string
}

// A Layer is a set of directories, files and symlinks that is written as
// one deterministic tar: entries sorted by path, parents before children,
// fixed mtime, owner root, no host names or paths.
type Layer struct {
	name    string
	entries map[string]*entry
}

// NewLayer returns an empty layer; name only appears in the image history.
func NewLayer(name string) *Layer {
	return &Layer{name: name, entries: map[string]*entry{}}
}

// cleanPath turns an image path ("/bin/sh", "bin/sh") into the form tar
// entries use: slash-separated, relative to the root, no dot segments.
func cleanPath(p string) (string, error) {
	c := strings.TrimPrefix(path.Clean("/"+p), "/")
	if c == "" {
		return "", fmt.Errorf("layer path %q names the root", p)
	}
	return c, nil
}

func (l *Layer) put(p string, e *entry) {
	c, err := cleanPath(p)
	if err != nil {
		panic(err) // catalog paths are constants; a root path is a programming error
	}
	l.entries[c] = e
}

// Dir adds a directory; parents of other entries are added as 0755
// directories without being named.
func (l *Layer) Dir(p string, mode fs.FileMode) {
	l.put(p, &entry{kind: kindDir, mode: mode})
}

// File adds a regular file with the given contents.
func (l *Layer) File(p string, mode fs.FileMode, data []byte) {
	l.put(p, &entry{kind: kindFile, mode: mode, data: data})
}

// CopyFile adds a regular file whose contents are read from src on the
// host when the layer is written.
func (l *Layer) CopyFile(p string, mode fs.FileMode, src string) {
	l.put(p, &entry{kind: kindFile, mode: mode, source: src})
}

// Symlink adds a symbolic link at p pointing to target.
func (l *Layer) Symlink(p, target string) {
	l.put(p, &entry{kind: kindSymlink, target: target})
}

// sortedEntries returns every path of the layer, implied parent
// directories included, in the order they are written.
func (l *Layer) sortedEntries() ([]string, map[string]*entry) {
	all := make(map[string]*entry, len(l.entries))
	for p, e := range l.entries {
		all[p] = e
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if _, ok := all[d]; ok {
				break
			}
			if e, ok := l.entries[d]; ok {
				all[d] = e
				continue
			}
			all[d] = &entry{kind: kindDir, mode: 0o755}
		}
	}
	paths := make([]string, 0, len(all))
	for p := range all {
		paths = append(paths, p)
	}
	// Byte order puts a parent before its children, all a tar reader needs.
	sort.Strings(paths)
	return paths, all
}

// tarMode is the mode word of a tar header: permission bits plus the
// setuid (04000), setgid (02000) and sticky (01000) bits.
func tarMode(m fs.FileMode) int64 {
	v := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}

// WriteTar writes the layer as an uncompressed tar stream.
func (l *Layer) WriteTar(w io.Writer) error {
	paths, all := l.sortedEntries()
	tw := tar.NewWriter(w)
	for _, p := range paths {
		e := all[p]
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if all[d].kind != kindDir {
				return fmt.Errorf("layer %s: %s is inside %s, which is not a directory", l.name, p, d)
			}
		}
		h := &tar.Header{
			Name:    p,
			Mode:    tarMode(e.mode),
			ModTime: layerTime,
			Format:  tar.FormatPAX,
		}
		switch e.kind {
		case kindDir:
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		case kindSymlink:
			h.Typeflag = tar.TypeSymlink
			h.Linkname = e.target
			h.Mode = 0o777
		case kindFile:
			h.Typeflag = tar.TypeReg
		}
		if e.kind != kindFile {
			if err := tw.WriteHeader(h); err != nil {
				return fmt.Errorf("layer %s: %s: %w", l.name, p, err)
			}
			continue
		}
		if e.source == "" {
			h.Size = int64(len(e.data))
			if err := tw.WriteHeader(h); err != nil {
				return fmt.Errorf("layer %s: %s: %w", l.name, p, err)
			}
			if _, err := tw.Write(e.data); err != nil {
				return fmt.Errorf("layer %s: %s: %w", l.name, p, err)
			}
			continue
		}
		if err := copyInto(tw, h, e.source); err != nil {
			return fmt.Errorf("layer %s: %s: %w", l.name, p, err)
		}
	}
	return tw.Close()
}

func copyInto(tw *tar.Writer, h *tar.Header, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	h.Size = st.Size()
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	n, err := io.Copy(tw, f)
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if n != h.Size {
		return fmt.Errorf("%s changed size while being copied", src)
	}
	return nil
}

// A layerBlob is a layer written to disk as a gzip blob.
type layerBlob struct {
	desc    descriptor // the compressed blob
	diffID  string     // sha256 of the uncompressed tar, for the config
	file    string     // where the blob is on disk
	history string
}

// writeBlob writes the layer gzip-compressed into dir/sha256/<hex> and
// returns its descriptor. Compression uses a fixed header (no name, no
// time), so the same layer gives the same bytes with the same Go release.
func (l *Layer) writeBlob(dir string) (layerBlob, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return layerBlob{}, err
	}
	tmp, err := os.CreateTemp(dir, "layer-*.tmp")
	if err != nil {
		return layerBlob{}, err
	}
	defer os.Remove(tmp.Name())
	blobHash := sha256.New()
	counter := &countWriter{}
	zw, err := gzip.NewWriterLevel(io.MultiWriter(tmp, blobHash, counter), gzip.DefaultCompression)
	if err != nil {
		return layerBlob{}, err
	}
	tarHash := sha256.New()
	if err := l.WriteTar(io.MultiWriter(zw, tarHash)); err != nil {
		tmp.Close()
		return layerBlob{}, err
	}
	if err := zw.Close(); err != nil {
		tmp.Close()
		return layerBlob{}, fmt.Errorf("layer %s: compressing: %w", l.name, err)
	}
	if err := tmp.Close(); err != nil {
		return layerBlob{}, err
	}
	hexDigest := hex.EncodeToString(blobHash.Sum(nil))
	final := dir + "/" + hexDigest
	if err := os.Rename(tmp.Name(), final); err != nil {
		return layerBlob{}, err
	}
	return layerBlob{
		desc: descriptor{
			MediaType: mediaTypeLayerGzip,
			Digest:    "sha256:" + hexDigest,
			Size:      counter.n,
		},
		diffID:  "sha256:" + hex.EncodeToString(tarHash.Sum(nil)),
		file:    final,
		history: l.name,
	}, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
