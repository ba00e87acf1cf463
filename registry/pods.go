package registry

import (
	"github.com/skiff-dev/skiff/registry/core/pod"
)

// podHooks plugs the pod rules of registry/core/pod into the generic store.
// Pods count their own generation (the pod package bumps it only after
// dropping disabled fields and restoring pod-level resources), so the pods
// Resource does not set Generation. pods/status and the other subresources
// are installed by registry/core/pod/storage.
func podHooks() Hooks {
	return Hooks{
		PrepareForCreate:    pod.PrepareForCreate,
		PrepareForUpdate:    pod.PrepareForUpdate,
		WarningsOnCreate:    pod.WarningsOnCreate,
		CheckGracefulDelete: pod.CheckGracefulDelete,
		Fields:              pod.SelectableFields,
	}
}
