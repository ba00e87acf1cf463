// Package useragent names the clients of skiff's control-plane components
// as upstream's own binaries name theirs, since the user agent's first word
// becomes the field manager users see in managedFields and audit logs.
package useragent

import (
	"fmt"
	"runtime"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/component-base/version"
)

// For is the user agent of component's client called name, as
// rest.AddUserAgent makes it in the upstream binary of that component:
// "kube-controller-manager/v1.37.2 (linux/amd64) kubernetes/abcdef0/deployment-controller".
func For(component, name string) string {
	v := version.Get()
	gitVersion, _, _ := strings.Cut(v.GitVersion, "-")
	commit := v.GitCommit
	if commit == "" {
		commit = "unknown"
	} else if len(commit) > 7 {
		commit = commit[:7]
	}
	return fmt.Sprintf("%s/%s (%s/%s) kubernetes/%s/%s", component, gitVersion, runtime.GOOS, runtime.GOARCH, commit, name)
}

// Default returns a copy of cfg whose user agent ends in name, unless its
// user agent is already set (by the server, which knows the component).
func Default(cfg *rest.Config, name string) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	if cfg.UserAgent == "" {
		cfg = rest.AddUserAgent(cfg, name)
	}
	return cfg
}
