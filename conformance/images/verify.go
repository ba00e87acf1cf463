package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// verifyImage unpacks the image tarball into a scratch root under
// scratchDir and runs the spec's checks there with chroot, the way a
// container runtime would start them (PATH and user from the image, an
// /etc/hosts written in as the kubelet does). It needs root.
func verifyImage(ctx context.Context, tarball string, s imageSpec, scratchDir string) error {
	if os.Geteuid() != 0 {
		return errors.New("verifying an image runs its binaries under chroot, which needs root")
	}
	a, err := readImage(tarball)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(scratchDir, 0o755); err != nil {
		return err
	}
	root, err := os.MkdirTemp(scratchDir, "rootfs-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	// MkdirTemp makes it 0700; a container's / is 0755, which a non-root
	// image user needs to reach its own binaries.
	if err := os.Chmod(root, 0o755); err != nil {
		return err
	}
	for i, layer := range a.Layers {
		if err := unpackLayer(root, layer); err != nil {
			return fmt.Errorf("%s: layer %d: %w", tarball, i, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "hosts"), []byte("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"), 0o644); err != nil {
		return err
	}
	for _, c := range s.checks {
		if err := runCheck(ctx, root, a.Config.Config, c); err != nil {
			return fmt.Errorf("%s: %w", s.ref, err)
		}
	}
	return nil
}

// unpackLayer applies one uncompressed layer tar onto root. It handles
// what this program writes: directories, regular files and symlinks,
// later layers replacing earlier entries.
func unpackLayer(root string, layer []byte) error {
	tr := tar.NewReader(bytes.NewReader(layer))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean("/" + h.Name)
		if strings.Contains(path.Base(name), ".wh.") {
			return fmt.Errorf("%s: whiteouts are not expected in these layers", h.Name)
		}
		dst := filepath.Join(root, filepath.FromSlash(name))
		mode := uint32(h.Mode & 0o7777)
		switch h.Typeflag {
		case tar.TypeDir:
			if fi, err := os.Lstat(dst); err == nil && !fi.IsDir() {
				if err := os.Remove(dst); err != nil {
					return err
				}
			}
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			if err := syscall.Chmod(dst, mode); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := replace(dst); err != nil {
				return err
			}
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			if err := syscall.Chmod(dst, mode); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := replace(dst); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, dst); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: unexpected tar entry type %q", h.Name, h.Typeflag)
		}
	}
}

// replace clears the way for a new file or symlink at dst.
func replace(dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	fi, err := os.Lstat(dst)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return os.RemoveAll(dst)
	}
	return os.Remove(dst)
}

// findInPath resolves a command name the way a shell inside the image
// would, using the image's PATH; a name with a slash is used as is.
func findInPath(root string, env []string, name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathVar := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range filepath.SplitList(pathVar) {
		p := path.Join(dir, name)
		if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(p))); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in the image's PATH %q", name, pathVar)
}

func parseUser(u string) (*syscall.Credential, error) {
	if u == "" {
		return nil, nil
	}
	us, gs, _ := strings.Cut(u, ":")
	uid, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", u, err)
	}
	gid := uid
	if gs != "" {
		if gid, err = strconv.ParseUint(gs, 10, 32); err != nil {
			return nil, fmt.Errorf("user %q: %w", u, err)
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

func runCheck(ctx context.Context, root string, cfg ImageConfig, c check) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	argv := strings.Join(c.args, " ")
	bin, err := findInPath(root, cfg.Env, c.args[0])
	if err != nil {
		return err
	}
	cred, err := parseUser(c.user)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	// Built by hand: exec.Command would look the name up on the host.
	cmd := &exec.Cmd{
		Path:        bin,
		Args:        c.args,
		Env:         cfg.Env,
		Dir:         "/",
		Stdout:      &out,
		Stderr:      &out,
		SysProcAttr: &syscall.SysProcAttr{Chroot: root, Credential: cred},
	}
	if !c.sigterm {
		if err := runWithContext(ctx, cmd); err != nil {
			return fmt.Errorf("%q: %w\n%s", argv, err, out.String())
		}
		if !strings.Contains(out.String(), c.want) {
			return fmt.Errorf("%q printed %q, want it to contain %q", argv, out.String(), c.want)
		}
		return nil
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%q: %w", argv, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return fmt.Errorf("%q exited before SIGTERM: %v\n%s", argv, err, out.String())
	case <-time.After(500 * time.Millisecond):
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%q on SIGTERM: %w\n%s", argv, err, out.String())
		}
		return nil
	case <-ctx.Done():
		cmd.Process.Kill()
		return fmt.Errorf("%q did not exit on SIGTERM", argv)
	}
}

func runWithContext(ctx context.Context, cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		return ctx.Err()
	}
}
