package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/controllers/localpath"
)

// ensureDefaultStorageClass creates the local-path StorageClass when no
// class of that name exists. It runs at start only, so a class the user
// deleted or replaced stays as the user left it until the next start.
func ensureDefaultStorageClass(ctx context.Context, client kubernetes.Interface) error {
	sc := localpath.DefaultClass()
	if _, err := client.StorageV1().StorageClasses().Get(ctx, sc.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return err
	}
	if _, err := client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the %s StorageClass: %w", sc.Name, err)
	}
	return nil
}

// localPathOptions places volumes under --default-local-storage-path. The
// nodes whose directories this process handles itself are this host's
// and the hollow nodes it plays.
func (c *Config) localPathOptions() localpath.Options {
	base := c.DefaultLocalStoragePath
	if base == "" {
		base = filepath.Join(c.DataDir, "storage")
	}
	hostname, _ := os.Hostname()
	hostname = strings.ToLower(hostname)
	prefix := c.HollowNodePrefix
	if prefix == "" {
		prefix = "hollow-node-"
	}
	hollow := c.HollowNodes > 0
	return localpath.Options{
		BasePath: base,
		IsLocalNode: func(node string) bool {
			return node == hostname || hollow && strings.HasPrefix(node, prefix)
		},
	}
}
