package pod

// skiff serves Kubernetes 1.37 with every feature gate at its default, and it
// has no gate registry of the Kubernetes features. The gates the pod registry
// consults are constants here, each set to its 1.37 default; a field guarded
// by a disabled gate is dropped on write unless the stored object already uses
// it, exactly as upstream does for a disabled gate.
const (
	// Alpha in 1.37: disabled.
	featureAtomicWriteVolumeUserFields                  = false
	featureCSIVolumeHealth                              = false
	featureContainerStopSignals                         = false
	featureDRANodeAllocatableResources                  = false
	featureEmptyDirVolumeMode                           = false
	featureEvictionRequestAPI                           = false
	featureGRPCContainerProbeTLS                        = false
	featureGenericWorkload                              = false
	featureH2CContainerProbe                            = false
	featureImageVolumeWithDigest                        = false
	featureInPlacePodVerticalScalingMemoryBackedVolumes = false
	featureVolumeBindMountOptions                       = false

	// Beta or GA in 1.37: enabled.
	featureInPlacePodLevelResourcesVerticalScaling = true
	featurePodLevelResourcesFixDefaulting          = true
)
