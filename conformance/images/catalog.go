package main

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
)

const (
	e2eRegistry    = "registry.k8s.io/e2e-test-images/"
	agnhostVersion = "2.66.1"
	defaultPath    = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// An imageSpec is one image the conformance suite pulls: the shared
// layers it stacks, an optional layer of its own, its run configuration,
// and the commands that show a built image works.
type imageSpec struct {
	ref    string
	layers []string
	top    func(ctx context.Context, b *builder, l *Layer) error
	config ImageConfig
	checks []check
}

// shortName is the image's last path element and tag, "agnhost:2.55".
func (s imageSpec) shortName() string {
	return s.ref[strings.LastIndex(s.ref, "/")+1:]
}

// fileName is the tarball's name under the output directory.
func (s imageSpec) fileName() string {
	return strings.ReplaceAll(s.shortName(), ":", "-") + ".tar"
}

// check runs args in the unpacked image (PATH from the image config)
// and expects exit status 0 and want in the output. With sigterm it
// instead expects the process to keep running until SIGTERM, then exit 0.
type check struct {
	args    []string
	user    string // "uid:gid", root if empty
	want    string
	sigterm bool
}

func ports(ps ...string) map[string]struct{} {
	m := map[string]struct{}{}
	for _, p := range ps {
		m[p+"/tcp"] = struct{}{}
	}
	return m
}

// catalog is every image of the Kubernetes v1.37.0 conformance specs
// (shared/notes/conformance.md section 4), under the exact name and tag
// the suite's image manifest gives it.
func catalog() []imageSpec {
	agnhostLayers := []string{"busybox", "glibc-tools", "agnhost"}
	agnhostChecks := []check{
		{args: []string{"/agnhost", "--version"}, want: agnhostVersion},
		{args: []string{"/agnhost-2", "--version"}, want: agnhostVersion},
		{args: []string{"readlink", "-f", "/bin/sh"}, want: "/bin/dash"},
		{args: []string{"/bin/sh", "-x", "-c", "echo ok"}, want: "ok"},
		{args: []string{"bash", "-c", "echo $BASH_VERSION"}, want: "5."},
		{args: []string{"sh", "-c", "nc -h 2>&1"}, want: "OpenBSD netcat"},
		{args: []string{"dig", "-v"}, want: "DiG 9."},
		{args: []string{"sh", "-c", "nslookup -version 2>&1"}, want: "nslookup 9."},
		{args: []string{"curl", "--version"}, want: "curl 7."},
		{args: []string{"getent", "hosts", "localhost"}, want: "localhost"},
		{args: []string{"id", "user-defined-in-image"}, want: "50000(group-defined-in-image)"},
		{args: []string{"ls", "/localhost.crt", "/localhost.key"}, want: "/localhost.crt"},
	}
	agnhost := func(tag string) imageSpec {
		return imageSpec{
			ref:    e2eRegistry + "agnhost:" + tag,
			layers: agnhostLayers,
			top:    imageVersion(tag),
			config: ImageConfig{
				Env:          []string{defaultPath},
				Entrypoint:   []string{"/agnhost"},
				Cmd:          []string{"pause"},
				ExposedPorts: ports("80", "8080", "8081", "9376", "5000"),
			},
			checks: slices.Concat(agnhostChecks, []check{{args: []string{"cat", "/IMAGE_VERSION"}, want: tag}}),
		}
	}
	nginx := func(tag string) imageSpec {
		return imageSpec{
			ref:    e2eRegistry + "nginx:" + tag,
			layers: agnhostLayers,
			top:    imageVersion(tag),
			config: ImageConfig{
				Env:          []string{defaultPath},
				Entrypoint:   []string{"/agnhost", "test-webserver", "--port=80"},
				ExposedPorts: ports("80"),
			},
			checks: []check{
				{args: []string{"/agnhost", "test-webserver", "--help"}, want: "--port"},
				{args: []string{"cat", "/IMAGE_VERSION"}, want: tag},
			},
		}
	}
	demo := func(name, tag string, extra func(l *Layer)) imageSpec {
		return imageSpec{
			ref:    e2eRegistry + name + ":" + tag,
			layers: agnhostLayers,
			top: func(ctx context.Context, b *builder, l *Layer) error {
				k8s, err := b.kubernetesDir(ctx)
				if err != nil {
					return err
				}
				html := filepath.Join(k8s, "test", "images", name, "html")
				l.CopyFile("/data.json", 0o644, filepath.Join(html, "data.json"))
				l.CopyFile("/"+name+".jpg", 0o644, filepath.Join(html, name+".jpg"))
				l.File("/IMAGE_VERSION", 0o644, []byte(tag+"\n"))
				if extra != nil {
					extra(l)
				}
				return nil
			},
			config: ImageConfig{
				Env:          []string{defaultPath},
				Entrypoint:   []string{"/agnhost"},
				Cmd:          []string{"test-webserver"},
				ExposedPorts: ports("80"),
			},
			checks: []check{{args: []string{"cat", "/data.json"}, want: name + ".jpg"}},
		}
	}
	kitten := demo("kitten", "1.8", func(l *Layer) {
		// The image-volume spec reads etc/os-release from the mounted
		// image and expects upstream's Alpine base; this is only that fixture.
		l.File("/etc/os-release", 0o644, []byte(alpineOSRelease))
	})
	kitten.checks = append(kitten.checks, check{args: []string{"cat", "/etc/os-release"}, want: "Alpine Linux"})

	return []imageSpec{
		agnhost(agnhostVersion),
		agnhost("2.55"),
		{
			ref:    e2eRegistry + "busybox:1.37.0-2",
			layers: []string{"busybox"},
			config: ImageConfig{Env: []string{defaultPath}, Cmd: []string{"sh"}},
			checks: []check{
				{args: []string{"sh", "-c", "echo ok"}, want: "ok"},
				{args: []string{"/bin/sh", "-c", "id -u; hostname >/dev/null; printf '%s\\n' printed"}, want: "0\nprinted"},
				{args: []string{"readlink", "/bin/wget"}, want: "busybox"},
				{args: []string{"sh", "-c", "/bin/false || echo false-failed"}, want: "false-failed"},
				{args: []string{"ls", "-ld", "/tmp"}, want: "drwxrwxrwt"},
			},
		},
		{
			ref:    "registry.k8s.io/pause:3.10.2",
			layers: []string{"pause"},
			config: ImageConfig{Entrypoint: []string{"/pause"}, User: "65535:65535", WorkingDir: "/"},
			checks: []check{{args: []string{"/pause"}, user: "65535:65535", sigterm: true}},
		},
		nginx("1.27.0-2"),
		nginx("1.28.0-2"),
		{
			ref:    e2eRegistry + "glibc-dns-testing:2.1.1",
			layers: []string{"busybox", "glibc-tools"},
			config: ImageConfig{Env: []string{defaultPath}, Cmd: []string{"bash"}},
			checks: []check{
				{args: []string{"sh", "-c", "for i in $(seq 1 3); do test $i -gt 0 && echo n$i; done; sleep 0"}, want: "n1\nn2\nn3"},
				{args: []string{"dig", "-v"}, want: "DiG 9."},
				{args: []string{"getent", "hosts", "localhost"}, want: "localhost"},
				{args: []string{"sh", "-c", "nc -h 2>&1"}, want: "OpenBSD netcat"},
				{args: []string{"curl", "--version"}, want: "curl 7."},
			},
		},
		demo("nautilus", "1.8", nil),
		kitten,
		{
			ref:    e2eRegistry + "sample-apiserver:1.29.2",
			layers: []string{"busybox", "sample-apiserver"},
			config: ImageConfig{Env: []string{defaultPath}, Entrypoint: []string{"/sample-apiserver"}},
			checks: []check{{args: []string{"/sample-apiserver", "--help"}, want: "--etcd-servers"}},
		},
		{
			ref:    "registry.k8s.io/etcd:3.7.0-0",
			layers: []string{"etcd"},
			config: ImageConfig{Env: []string{defaultPath}, Cmd: []string{"/usr/local/bin/etcd"}},
			checks: []check{{args: []string{"/usr/local/bin/etcd", "--version"}, want: "etcd Version: 3.7.0"}},
		},
		{
			ref:    e2eRegistry + "nonewprivs:1.4",
			layers: []string{"busybox", "nonewprivs"},
			config: ImageConfig{Env: []string{defaultPath}, Cmd: []string{"nnp"}},
			checks: []check{
				{args: []string{"stat", "-c", "%a %u", "/usr/local/bin/nnp"}, want: "4755 0"},
				{args: []string{"nnp"}, want: "Effective uid: 0"},
				// setuid root takes effect for a non-root user when no_new_privs is off.
				{args: []string{"nnp"}, user: "1000:1000", want: "Effective uid: 0"},
			},
		},
	}
}

// selectImages keeps the images named by only, by short name or
// name:tag; it fails on a name that matches nothing.
func selectImages(all []imageSpec, only []string) ([]imageSpec, error) {
	if len(only) == 0 {
		return all, nil
	}
	var res []imageSpec
	for _, want := range only {
		matched := false
		for _, s := range all {
			short := s.shortName()
			name, _, _ := strings.Cut(short, ":")
			if want == short || want == name || want == s.ref {
				matched = true
				if !containsSpec(res, s.ref) {
					res = append(res, s)
				}
			}
		}
		if !matched {
			return nil, fmt.Errorf("no image named %q", want)
		}
	}
	// Keep catalog order, so output does not depend on the flag's order.
	var ordered []imageSpec
	for _, s := range all {
		if containsSpec(res, s.ref) {
			ordered = append(ordered, s)
		}
	}
	return ordered, nil
}

func containsSpec(specs []imageSpec, ref string) bool {
	for _, s := range specs {
		if s.ref == ref {
			return true
		}
	}
	return false
}

// imageVersion is an image's own layer holding only /IMAGE_VERSION, so
// that images sharing every other layer (agnhost 2.66.1 and 2.55) still
// have different digests, as the rollout specs need.
func imageVersion(tag string) func(context.Context, *builder, *Layer) error {
	return func(_ context.Context, _ *builder, l *Layer) error {
		l.File("/IMAGE_VERSION", 0o644, []byte(tag+"\n"))
		return nil
	}
}

const alpineOSRelease = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.21.0
PRETTY_NAME="Alpine Linux v3.21"
HOME_URL="https://alpinelinux.org/"
`

// The busybox image's accounts, as in upstream's busybox base; the glibc
// layer adds the agnhost user and group the security-context specs need.
const (
	busyboxPasswd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`
	busyboxGroup = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
mail:x:8:
www-data:x:33:
operator:x:37:
staff:x:50:
users:x:100:
nogroup:x:65534:
`
	agnhostUser  = "user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\n"
	agnhostGroup = "user-defined-in-image:x:1000:\ngroup-defined-in-image:x:50000:user-defined-in-image\n"
	nsswitch     = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n"
)

// sharedLayers are the layers several images stack, built once per run.
var sharedLayers = map[string]func(ctx context.Context, b *builder, l *Layer) error{
	// busybox: Debian's busybox-static with every applet linked in /bin,
	// like upstream's busybox image.
	"busybox": func(ctx context.Context, b *builder, l *Layer) error {
		if err := b.deb.fetch(ctx, "busybox-static"); err != nil {
			return err
		}
		if err := b.deb.install(l, "/bin/busybox"); err != nil {
			return err
		}
		host, _, _ := b.deb.lookup("/bin/busybox")
		applets, err := busyboxApplets(ctx, host)
		if err != nil {
			return err
		}
		for _, a := range applets {
			l.Symlink("/bin/"+a, "busybox")
		}
		l.Symlink("/usr/bin/env", "/bin/busybox")
		for _, d := range []string{"/usr/bin", "/usr/sbin", "/sbin", "/var", "/home", "/dev", "/proc", "/sys"} {
			l.Dir(d, 0o755)
		}
		l.Dir("/root", 0o700)
		l.Dir("/tmp", 0o777|fs.ModeSticky)
		l.Dir("/var/tmp", 0o777|fs.ModeSticky)
		l.File("/etc/passwd", 0o644, []byte(busyboxPasswd))
		l.File("/etc/group", 0o644, []byte(busyboxGroup))
		return nil
	},
	// glibc-tools: the Debian userland the agnhost specs drive through
	// kubectl exec. dash is /bin/sh because busybox sh would run its own
	// nc and nslookup applets whatever PATH says.
	"glibc-tools": func(ctx context.Context, b *builder, l *Layer) error {
		if err := b.deb.fetch(ctx, "libc6", "libc-bin", "dash", "bash", "netcat-openbsd", "bind9-dnsutils", "bind9-host", "curl"); err != nil {
			return err
		}
		if err := b.deb.install(l, "/bin/dash", "/bin/bash", "/bin/nc.openbsd", "/usr/bin/dig", "/usr/bin/nslookup",
			"/usr/bin/host", "/usr/bin/curl", "/usr/bin/getent"); err != nil {
			return err
		}
		l.Symlink("/bin/sh", "dash")
		l.Symlink("/bin/nc", "nc.openbsd")
		l.Symlink("/bin/nslookup", "/usr/bin/nslookup")
		l.File("/etc/passwd", 0o644, []byte(busyboxPasswd+agnhostUser))
		l.File("/etc/group", 0o644, []byte(busyboxGroup+agnhostGroup))
		l.File("/etc/nsswitch.conf", 0o644, []byte(nsswitch))
		l.Dir("/home/user-defined-in-image", 0o755)
		return nil
	},
	// agnhost: the e2e swiss-army binary at / as upstream lays it out.
	"agnhost": func(ctx context.Context, b *builder, l *Layer) error {
		bin, err := b.goBinary(ctx, "agnhost")
		if err != nil {
			return err
		}
		k8s, err := b.kubernetesDir(ctx)
		if err != nil {
			return err
		}
		l.CopyFile("/agnhost", 0o755, bin)
		l.Symlink("/agnhost-2", "agnhost")
		porter := filepath.Join(k8s, "test", "images", "agnhost", "porter")
		l.CopyFile("/localhost.crt", 0o644, filepath.Join(porter, "localhost.crt"))
		l.CopyFile("/localhost.key", 0o644, filepath.Join(porter, "localhost.key"))
		l.Dir("/uploads", 0o755)
		return nil
	},
	"pause": func(ctx context.Context, b *builder, l *Layer) error {
		bin, err := b.goBinary(ctx, "pause")
		if err != nil {
			return err
		}
		l.CopyFile("/pause", 0o755, bin)
		return nil
	},
	"etcd": func(ctx context.Context, b *builder, l *Layer) error {
		bin, err := b.goBinary(ctx, "etcd")
		if err != nil {
			return err
		}
		l.CopyFile("/usr/local/bin/etcd", 0o755, bin)
		l.Dir("/tmp", 0o777|fs.ModeSticky)
		l.Dir("/var/lib/etcd", 0o700)
		return nil
	},
	"sample-apiserver": func(ctx context.Context, b *builder, l *Layer) error {
		bin, err := b.goBinary(ctx, "sample-apiserver")
		if err != nil {
			return err
		}
		l.CopyFile("/sample-apiserver", 0o755, bin)
		return nil
	},
	// nonewprivs: a setuid-root nnp that prints its effective uid.
	"nonewprivs": func(ctx context.Context, b *builder, l *Layer) error {
		bin, err := b.goBinary(ctx, "nnp")
		if err != nil {
			return err
		}
		l.CopyFile("/usr/local/bin/nnp", 0o755|fs.ModeSetuid, bin)
		return nil
	},
}
