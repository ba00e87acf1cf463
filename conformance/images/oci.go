package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

const (
	mediaTypeIndex     = "application/vnd.oci.image.index.v1+json"
	mediaTypeManifest  = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeConfig    = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"

	// annotationRefName is the OCI image-layout name of a manifest;
	// annotationContainerdName is what `ctr images import` names the image
	// by. Both carry the full name:tag, so either reader gets the name the
	// e2e suite asks for.
	annotationRefName        = "org.opencontainers.image.ref.name"
	annotationContainerdName = "io.containerd.image.name"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

// ImageConfig is the run configuration of an image: what a container
// runtime starts when a pod names the image without a command.
type ImageConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type history struct {
	CreatedBy  string `json:"created_by,omitempty"`
	EmptyLayer bool   `json:"empty_layer,omitempty"`
}

// imageFile is the OCI image config blob. It has no "created" time, so the
// digest does not change from one build to the next.
type imageFile struct {
	Architecture string      `json:"architecture"`
	OS           string      `json:"os"`
	Config       ImageConfig `json:"config"`
	RootFS       rootFS      `json:"rootfs"`
	History      []history   `json:"history,omitempty"`
}

type blob struct {
	digest string
	data   []byte // in memory, or
	file   string // on disk
	size   int64
}

func jsonBlob(v any) (blob, []byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return blob{}, nil, err
	}
	sum := sha256.Sum256(data)
	return blob{digest: "sha256:" + hex.EncodeToString(sum[:]), data: data, size: int64(len(data))}, data, nil
}

// writeImage writes ref (registry/name:tag) as a single-manifest OCI
// image-layout tar to w and returns the manifest's descriptor, whose
// digest is the image's digest.
func writeImage(w io.Writer, ref string, cfg ImageConfig, layers []layerBlob) (descriptor, error) {
	file := imageFile{Architecture: "amd64", OS: "linux", Config: cfg, RootFS: rootFS{Type: "layers"}}
	m := manifest{SchemaVersion: 2, MediaType: mediaTypeManifest}
	blobs := map[string]blob{}
	for _, l := range layers {
		file.RootFS.DiffIDs = append(file.RootFS.DiffIDs, l.diffID)
		file.History = append(file.History, history{CreatedBy: l.history})
		m.Layers = append(m.Layers, l.desc)
		blobs[l.desc.Digest] = blob{digest: l.desc.Digest, file: l.file, size: l.desc.Size}
	}
	cb, _, err := jsonBlob(file)
	if err != nil {
		return descriptor{}, err
	}
	blobs[cb.digest] = cb
	m.Config = descriptor{MediaType: mediaTypeConfig, Digest: cb.digest, Size: cb.size}
	mb, _, err := jsonBlob(m)
	if err != nil {
		return descriptor{}, err
	}
	blobs[mb.digest] = mb
	desc := descriptor{
		MediaType: mediaTypeManifest,
		Digest:    mb.digest,
		Size:      mb.size,
		Annotations: map[string]string{
			annotationRefName:        ref,
			annotationContainerdName: ref,
		},
		Platform: &platform{Architecture: "amd64", OS: "linux"},
	}
	indexData, err := json.Marshal(index{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: []descriptor{desc}})
	if err != nil {
		return descriptor{}, err
	}

	tw := tar.NewWriter(w)
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: layerTime}); err != nil {
			return descriptor{}, err
		}
	}
	digests := make([]string, 0, len(blobs))
	for d := range blobs {
		digests = append(digests, d)
	}
	sort.Strings(digests)
	for _, d := range digests {
		if err := writeBlobEntry(tw, blobs[d]); err != nil {
			return descriptor{}, fmt.Errorf("image %s: blob %s: %w", ref, d, err)
		}
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"index.json", indexData},
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
	} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: layerTime}); err != nil {
			return descriptor{}, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return descriptor{}, err
		}
	}
	if err := tw.Close(); err != nil {
		return descriptor{}, err
	}
	return desc, nil
}

func writeBlobEntry(tw *tar.Writer, b blob) error {
	name := "blobs/sha256/" + strings.TrimPrefix(b.digest, "sha256:")
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: b.size, ModTime: layerTime}); err != nil {
		return err
	}
	if b.file == "" {
		_, err := tw.Write(b.data)
		return err
	}
	f, err := os.Open(b.file)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(tw, f)
	if err != nil {
		return err
	}
	if n != b.size {
		return fmt.Errorf("%s has %d bytes, its descriptor says %d", b.file, n, b.size)
	}
	return nil
}

// An ociArchive is an image-layout tarball read back and checked: every
// blob's digest and size match the descriptor that names it.
type ociArchive struct {
	Index    index
	Manifest manifest
	Config   imageFile
	// Layers are the uncompressed layer tars, in order.
	Layers [][]byte
	// Files are the archive's file names, in archive order.
	Files []string
}

// readImage reads and verifies the OCI image-layout tarball at path:
// oci-layout, index.json with one linux/amd64 manifest, and the
// manifest's config and layers with their digests, sizes and diff IDs.
func readImage(path string) (*ociArchive, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	files := map[string][]byte{}
	a := &ociArchive{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		a.Files = append(a.Files, h.Name)
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, h.Name, err)
		}
		files[h.Name] = data
	}
	if got := string(files["oci-layout"]); got != `{"imageLayoutVersion":"1.0.0"}` {
		return nil, fmt.Errorf("%s: oci-layout is %q", path, got)
	}
	if err := json.Unmarshal(files["index.json"], &a.Index); err != nil {
		return nil, fmt.Errorf("%s: index.json: %w", path, err)
	}
	if len(a.Index.Manifests) != 1 {
		return nil, fmt.Errorf("%s: index.json has %d manifests, want 1", path, len(a.Index.Manifests))
	}
	md := a.Index.Manifests[0]
	if p := md.Platform; p == nil || p.OS != "linux" || p.Architecture != "amd64" {
		return nil, fmt.Errorf("%s: manifest platform is %+v, want linux/amd64", path, md.Platform)
	}
	getBlob := func(d descriptor) ([]byte, error) {
		data, ok := files["blobs/sha256/"+strings.TrimPrefix(d.Digest, "sha256:")]
		if !ok {
			return nil, fmt.Errorf("%s: blob %s is missing", path, d.Digest)
		}
		if int64(len(data)) != d.Size {
			return nil, fmt.Errorf("%s: blob %s has %d bytes, its descriptor says %d", path, d.Digest, len(data), d.Size)
		}
		if got := sha256Digest(data); got != d.Digest {
			return nil, fmt.Errorf("%s: blob named %s has digest %s", path, d.Digest, got)
		}
		return data, nil
	}
	data, err := getBlob(md)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &a.Manifest); err != nil {
		return nil, fmt.Errorf("%s: manifest: %w", path, err)
	}
	if data, err = getBlob(a.Manifest.Config); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &a.Config); err != nil {
		return nil, fmt.Errorf("%s: config: %w", path, err)
	}
	if len(a.Config.RootFS.DiffIDs) != len(a.Manifest.Layers) {
		return nil, fmt.Errorf("%s: config has %d diff IDs for %d layers", path, len(a.Config.RootFS.DiffIDs), len(a.Manifest.Layers))
	}
	for i, ld := range a.Manifest.Layers {
		if ld.MediaType != mediaTypeLayerGzip {
			return nil, fmt.Errorf("%s: layer %d has media type %s", path, i, ld.MediaType)
		}
		data, err := getBlob(ld)
		if err != nil {
			return nil, err
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: layer %s: %w", path, ld.Digest, err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			return nil, fmt.Errorf("%s: layer %s: %w", path, ld.Digest, err)
		}
		if got := sha256Digest(raw); got != a.Config.RootFS.DiffIDs[i] {
			return nil, fmt.Errorf("%s: layer %s uncompresses to %s, config says diff ID %s", path, ld.Digest, got, a.Config.RootFS.DiffIDs[i])
		}
		a.Layers = append(a.Layers, raw)
	}
	return a, nil
}

func sha256Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}
