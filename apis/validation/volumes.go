package validation

import (
	"fmt"
	"net"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	pdPartitionErrorMsg     = utilvalidation.InclusiveRangeError(1, 255)
	iscsiInitiatorIqnRegex  = regexp.MustCompile(`iqn\.\d{4}-\d{2}\.([[:alnum:]-.]+)(:[^,;*&$|\s]+)$`)
	iscsiInitiatorEuiRegex  = regexp.MustCompile(`^eui.[[:alnum:]]{16}$`)
	iscsiInitiatorNaaRegex  = regexp.MustCompile(`^naa.[[:alnum:]]{32}$`)
	supportedHostPathTypes  = sets.New(corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory, corev1.HostPathFileOrCreate, corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev)
	supportedPodCertKeyType = []string{"RSA3072", "RSA4096", "ECDSAP256", "ECDSAP384", "ECDSAP521", "ED25519"}
)

const (
	podCertMaxMaxExpirationSeconds           = 91 * 24 * 60 * 60
	podCertKubernetesMaxMaxExpirationSeconds = 24 * 60 * 60
)

// volumeKind is one member of a volume source union: whether it is set, the
// field name used when a second member is rejected, and its own validation.
type volumeKind struct {
	set      bool
	name     string
	validate func() field.ErrorList
}

// validateOneOfVolumes enforces that exactly one member of a volume source
// union is set and validates the first one that is.
// A member named unchecked is validated even after another one is set.
func validateOneOfVolumes(kinds []volumeKind, unchecked string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	n := 0
	for _, k := range kinds {
		if !k.set {
			continue
		}
		if n > 0 && k.name != unchecked {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child(k.name), "may not specify more than 1 volume type"))
			continue
		}
		n++
		allErrs = append(allErrs, k.validate()...)
	}
	if n == 0 {
		allErrs = append(allErrs, field.Required(fldPath, "must specify a volume type"))
	}
	return allErrs
}

// validateVolumes validates the pod's volumes and returns the valid ones by
// name, for the checks of volume mounts and devices.
func validateVolumes(volumes []corev1.Volume, podMeta *metav1.ObjectMeta, fldPath *field.Path, opts podOptions) (map[string]corev1.VolumeSource, field.ErrorList) {
	var allErrs field.ErrorList
	allNames := sets.Set[string]{}
	createdPVCs := sets.Set[string]{}
	if podMeta != nil && podMeta.Name != "" {
		for _, vol := range volumes {
			if vol.Ephemeral != nil {
				createdPVCs.Insert(podMeta.Name + "-" + vol.Name)
			}
		}
	}
	vols := make(map[string]corev1.VolumeSource)
	for i, vol := range volumes {
		idxPath := fldPath.Index(i)
		namePath := idxPath.Child("name")
		el := validateVolumeSource(&vol.VolumeSource, idxPath, vol.Name, podMeta, opts)
		if len(vol.Name) == 0 {
			el = append(el, field.Required(namePath, ""))
		} else {
			el = append(el, validateDNS1123Label(vol.Name, namePath)...)
		}
		if allNames.Has(vol.Name) {
			el = append(el, field.Duplicate(namePath, vol.Name))
		}
		if len(el) == 0 {
			allNames.Insert(vol.Name)
			vols[vol.Name] = vol.VolumeSource
		} else {
			allErrs = append(allErrs, el...)
		}
		if vol.PersistentVolumeClaim != nil && createdPVCs.Has(vol.PersistentVolumeClaim.ClaimName) {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("persistentVolumeClaim").Child("claimName"), vol.PersistentVolumeClaim.ClaimName,
				"must not reference a PVC that gets created for an ephemeral volume"))
		}
	}
	return vols, allErrs
}

func validateVolumeSource(s *corev1.VolumeSource, fldPath *field.Path, volName string, podMeta *metav1.ObjectMeta, opts podOptions) field.ErrorList {
	var extra field.ErrorList
	if s.ISCSI != nil && s.ISCSI.InitiatorName != nil && len(volName+":"+s.ISCSI.TargetPortal) > 64 {
		extra = append(extra, field.Invalid(fldPath.Child("name"), volName, "Total length of <volume name>:<iscsi.targetPortal> must be under 64 characters if iscsi.initiatorName is specified."))
	}
	// The field names below are upstream's, including its spelling slips
	// ("downwarAPI") and the children that differ from the JSON names.
	kinds := []volumeKind{
		{s.EmptyDir != nil, "emptyDir", func() field.ErrorList { return validateEmptyDir(s.EmptyDir, fldPath.Child("emptyDir")) }},
		{s.HostPath != nil, "hostPath", func() field.ErrorList { return validateHostPathVolumeSource(s.HostPath, fldPath.Child("hostPath")) }},
		{s.GitRepo != nil, "gitRepo", func() field.ErrorList { return validateGitRepoVolumeSource(s.GitRepo, fldPath.Child("gitRepo")) }},
		{s.GCEPersistentDisk != nil, "gcePersistentDisk", func() field.ErrorList {
			return validateGCEPersistentDisk(s.GCEPersistentDisk, fldPath.Child("persistentDisk"))
		}},
		{s.AWSElasticBlockStore != nil, "awsElasticBlockStore", func() field.ErrorList {
			return validateAWSElasticBlockStore(s.AWSElasticBlockStore, fldPath.Child("awsElasticBlockStore"))
		}},
		{s.Secret != nil, "secret", func() field.ErrorList { return validateSecretVolumeSource(s.Secret, fldPath.Child("secret")) }},
		{s.NFS != nil, "nfs", func() field.ErrorList { return validateNFSVolumeSource(s.NFS, fldPath.Child("nfs")) }},
		{s.ISCSI != nil, "iscsi", func() field.ErrorList { return validateISCSIVolumeSource(s.ISCSI, fldPath.Child("iscsi")) }},
		{s.Glusterfs != nil, "glusterfs", func() field.ErrorList { return validateGlusterfsVolumeSource(s.Glusterfs, fldPath.Child("glusterfs")) }},
		{s.Flocker != nil, "flocker", func() field.ErrorList { return validateFlockerVolumeSource(s.Flocker, fldPath.Child("flocker")) }},
		{s.PersistentVolumeClaim != nil, "persistentVolumeClaim", func() field.ErrorList {
			if len(s.PersistentVolumeClaim.ClaimName) == 0 {
				return field.ErrorList{field.Required(fldPath.Child("persistentVolumeClaim").Child("claimName"), "")}
			}
			return nil
		}},
		{s.RBD != nil, "rbd", func() field.ErrorList { return validateRBD(s.RBD.CephMonitors, s.RBD.RBDImage, fldPath.Child("rbd")) }},
		{s.Cinder != nil, "cinder", func() field.ErrorList { return validateCinderVolumeSource(s.Cinder, fldPath.Child("cinder")) }},
		{s.CephFS != nil, "cephFS", func() field.ErrorList { return validateCephFSMonitors(s.CephFS.Monitors, fldPath.Child("cephfs")) }},
		{s.Quobyte != nil, "quobyte", func() field.ErrorList { return validateQuobyteVolumeSource(s.Quobyte, fldPath.Child("quobyte")) }},
		{s.DownwardAPI != nil, "downwarAPI", func() field.ErrorList {
			return validateDownwardAPIVolumeSource(s.DownwardAPI, fldPath.Child("downwardAPI"))
		}},
		{s.FC != nil, "fc", func() field.ErrorList { return validateFCVolumeSource(s.FC, fldPath.Child("fc")) }},
		{s.FlexVolume != nil, "flexVolume", func() field.ErrorList {
			return validateFlexVolume(s.FlexVolume.Driver, s.FlexVolume.Options, fldPath.Child("flexVolume"))
		}},
		{s.ConfigMap != nil, "configMap", func() field.ErrorList { return validateConfigMapVolumeSource(s.ConfigMap, fldPath.Child("configMap")) }},
		{s.AzureFile != nil, "azureFile", func() field.ErrorList {
			return validateAzureFile(s.AzureFile.SecretName, s.AzureFile.ShareName, nil, fldPath.Child("azureFile"))
		}},
		{s.VsphereVolume != nil, "vsphereVolume", func() field.ErrorList {
			return requireString(s.VsphereVolume.VolumePath, fldPath.Child("vsphereVolume").Child("volumePath"))
		}},
		{s.PhotonPersistentDisk != nil, "photonPersistentDisk", func() field.ErrorList {
			return requireString(s.PhotonPersistentDisk.PdID, fldPath.Child("photonPersistentDisk").Child("pdID"))
		}},
		{s.PortworxVolume != nil, "portworxVolume", func() field.ErrorList {
			return requireString(s.PortworxVolume.VolumeID, fldPath.Child("portworxVolume").Child("volumeID"))
		}},
		{s.AzureDisk != nil, "azureDisk", func() field.ErrorList { return validateAzureDisk(s.AzureDisk, fldPath.Child("azureDisk")) }},
		{s.StorageOS != nil, "storageos", func() field.ErrorList {
			return validateStorageOS(s.StorageOS.VolumeName, s.StorageOS.VolumeNamespace, s.StorageOS.SecretRef != nil, ptrDeref(s.StorageOS.SecretRef, corev1.LocalObjectReference{}).Name, "", false, fldPath.Child("storageos"))
		}},
		{s.Projected != nil, "projected", func() field.ErrorList {
			return validateProjectedVolumeSource(s.Projected, fldPath.Child("projected"), opts)
		}},
		{s.ScaleIO != nil, "scaleIO", func() field.ErrorList {
			return validateScaleIO(s.ScaleIO.Gateway, s.ScaleIO.System, s.ScaleIO.VolumeName, fldPath.Child("scaleIO"))
		}},
		{s.CSI != nil, "csi", func() field.ErrorList { return validateCSIVolumeSource(s.CSI, fldPath.Child("csi")) }},
		{s.Ephemeral != nil, "ephemeral", func() field.ErrorList {
			errs := validateEphemeralVolumeSource(s.Ephemeral, fldPath.Child("ephemeral"))
			if podMeta != nil && podMeta.Name != "" && volName != "" {
				pvcName := podMeta.Name + "-" + volName
				for _, msg := range nameIsDNSSubdomain(pvcName, false) {
					errs = append(errs, field.Invalid(fldPath.Child("name"), volName, fmt.Sprintf("PVC name %q: %v", pvcName, msg)))
				}
			}
			return errs
		}},
		{s.Image != nil, "image", func() field.ErrorList { return validateImageVolumeSource(s.Image, fldPath.Child("image"), opts) }},
	}
	return append(validateOneOfVolumes(kinds, "", fldPath), extra...)
}

func requireString(value string, fldPath *field.Path) field.ErrorList {
	if value == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return nil
}

func validateEmptyDir(e *corev1.EmptyDirVolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if e.SizeLimit != nil && e.SizeLimit.Cmp(resource.Quantity{}) < 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("sizeLimit"), "SizeLimit field must be a valid resource quantity"))
	}
	if e.Mode != nil && (*e.Mode > 01777 || *e.Mode < 0) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("mode"), *e.Mode, emptyDirModeErrorMsg))
	}
	return allErrs
}

func validateHostPathVolumeSource(hostPath *corev1.HostPathVolumeSource, fldPath *field.Path) field.ErrorList {
	if len(hostPath.Path) == 0 {
		return field.ErrorList{field.Required(fldPath.Child("path"), "")}
	}
	allErrs := validatePathNoBacksteps(hostPath.Path, fldPath.Child("path"))
	if hostPath.Type != nil && !supportedHostPathTypes.Has(*hostPath.Type) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), hostPath.Type, sets.List(supportedHostPathTypes)))
	}
	return allErrs
}

func validateGitRepoVolumeSource(gitRepo *corev1.GitRepoVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := requireString(gitRepo.Repository, fldPath.Child("repository"))
	return append(allErrs, validateLocalDescendingPath(gitRepo.Directory, fldPath.Child("directory"))...)
}

// validateIQN checks an iSCSI qualified name; badPrefix is the message for a
// name without one of the known prefixes (it differs between pods and PVs).
func validateIQN(value string, badPrefix string, fldPath *field.Path) field.ErrorList {
	switch {
	case !strings.HasPrefix(value, "iqn") && !strings.HasPrefix(value, "eui") && !strings.HasPrefix(value, "naa"):
		return field.ErrorList{field.Invalid(fldPath, value, badPrefix)}
	case strings.HasPrefix(value, "iqn") && !iscsiInitiatorIqnRegex.MatchString(value),
		strings.HasPrefix(value, "eui") && !iscsiInitiatorEuiRegex.MatchString(value),
		strings.HasPrefix(value, "naa") && !iscsiInitiatorNaaRegex.MatchString(value):
		return field.ErrorList{field.Invalid(fldPath, value, "must be valid format")}
	}
	return nil
}

// validateInitiatorName reports a bad prefix and, independently, a bad format.
func validateInitiatorName(value string, badPrefix string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if !strings.HasPrefix(value, "iqn") && !strings.HasPrefix(value, "eui") && !strings.HasPrefix(value, "naa") {
		allErrs = append(allErrs, field.Invalid(fldPath, value, badPrefix))
	}
	if (strings.HasPrefix(value, "iqn") && !iscsiInitiatorIqnRegex.MatchString(value)) ||
		(strings.HasPrefix(value, "eui") && !iscsiInitiatorEuiRegex.MatchString(value)) ||
		(strings.HasPrefix(value, "naa") && !iscsiInitiatorNaaRegex.MatchString(value)) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, "must be valid format"))
	}
	return allErrs
}

func validateISCSIVolumeSource(iscsi *corev1.ISCSIVolumeSource, fldPath *field.Path) field.ErrorList {
	const badPrefix = "must be valid format starting with iqn, eui, or naa"
	allErrs := requireString(iscsi.TargetPortal, fldPath.Child("targetPortal"))
	if len(iscsi.IQN) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("iqn"), ""))
	} else {
		allErrs = append(allErrs, validateIQN(iscsi.IQN, badPrefix, fldPath.Child("iqn"))...)
	}
	if iscsi.Lun < 0 || iscsi.Lun > 255 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("lun"), iscsi.Lun, utilvalidation.InclusiveRangeError(0, 255)))
	}
	if (iscsi.DiscoveryCHAPAuth || iscsi.SessionCHAPAuth) && iscsi.SecretRef == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("secretRef"), ""))
	}
	if iscsi.InitiatorName != nil {
		allErrs = append(allErrs, validateInitiatorName(*iscsi.InitiatorName, badPrefix, fldPath.Child("initiatorname"))...)
	}
	return allErrs
}

func validateISCSIPersistentVolumeSource(iscsi *corev1.ISCSIPersistentVolumeSource, pvName string, fldPath *field.Path) field.ErrorList {
	const badPrefix = "must be valid format"
	allErrs := requireString(iscsi.TargetPortal, fldPath.Child("targetPortal"))
	if iscsi.InitiatorName != nil && len(pvName+":"+iscsi.TargetPortal) > 64 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("targetportal"), iscsi.TargetPortal, "Total length of <volume name>:<iscsi.targetPortal> must be under 64 characters if iscsi.initiatorName is specified."))
	}
	if len(iscsi.IQN) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("iqn"), ""))
	} else {
		allErrs = append(allErrs, validateIQN(iscsi.IQN, badPrefix, fldPath.Child("iqn"))...)
	}
	if iscsi.Lun < 0 || iscsi.Lun > 255 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("lun"), iscsi.Lun, utilvalidation.InclusiveRangeError(0, 255)))
	}
	if (iscsi.DiscoveryCHAPAuth || iscsi.SessionCHAPAuth) && iscsi.SecretRef == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("secretRef"), ""))
	}
	if iscsi.SecretRef != nil && len(iscsi.SecretRef.Name) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("secretRef", "name"), ""))
	}
	if iscsi.InitiatorName != nil {
		allErrs = append(allErrs, validateInitiatorName(*iscsi.InitiatorName, badPrefix, fldPath.Child("initiatorname"))...)
	}
	return allErrs
}

func validateFCVolumeSource(fc *corev1.FCVolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(fc.TargetWWNs) < 1 && len(fc.WWIDs) < 1 {
		allErrs = append(allErrs, field.Required(fldPath.Child("targetWWNs"), "must specify either targetWWNs or wwids, but not both"))
	}
	if len(fc.TargetWWNs) != 0 && len(fc.WWIDs) != 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("targetWWNs"), fc.TargetWWNs, "targetWWNs and wwids can not be specified simultaneously"))
	}
	if len(fc.TargetWWNs) != 0 {
		if fc.Lun == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("lun"), "lun is required if targetWWNs is specified"))
		} else if *fc.Lun < 0 || *fc.Lun > 255 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("lun"), fc.Lun, utilvalidation.InclusiveRangeError(0, 255)))
		}
	}
	return allErrs
}

func validateGCEPersistentDisk(pd *corev1.GCEPersistentDiskVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := requireString(pd.PDName, fldPath.Child("pdName"))
	if pd.Partition < 0 || pd.Partition > 255 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("partition"), pd.Partition, pdPartitionErrorMsg))
	}
	return allErrs
}

func validateAWSElasticBlockStore(pd *corev1.AWSElasticBlockStoreVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := requireString(pd.VolumeID, fldPath.Child("volumeID"))
	if pd.Partition < 0 || pd.Partition > 255 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("partition"), pd.Partition, pdPartitionErrorMsg))
	}
	return allErrs
}

func validateFileMode(mode *int32, fldPath *field.Path) field.ErrorList {
	if mode != nil && (*mode > 0777 || *mode < 0) {
		return field.ErrorList{field.Invalid(fldPath, *mode, fileModeErrorMsg)}
	}
	return nil
}

func validateSecretVolumeSource(s *corev1.SecretVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := requireString(s.SecretName, fldPath.Child("secretName"))
	allErrs = append(allErrs, validateFileMode(s.DefaultMode, fldPath.Child("defaultMode"))...)
	allErrs = append(allErrs, validateUserField(s.DefaultUser, fldPath.Child("defaultUser"))...)
	for i := range s.Items {
		allErrs = append(allErrs, validateKeyToPath(&s.Items[i], fldPath.Child("items").Index(i))...)
	}
	return allErrs
}

func validateConfigMapVolumeSource(s *corev1.ConfigMapVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := requireString(s.Name, fldPath.Child("name"))
	allErrs = append(allErrs, validateFileMode(s.DefaultMode, fldPath.Child("defaultMode"))...)
	allErrs = append(allErrs, validateUserField(s.DefaultUser, fldPath.Child("defaultUser"))...)
	for i := range s.Items {
		allErrs = append(allErrs, validateKeyToPath(&s.Items[i], fldPath.Child("items").Index(i))...)
	}
	return allErrs
}

func validateKeyToPath(kp *corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	allErrs := requireString(kp.Key, fldPath.Child("key"))
	allErrs = append(allErrs, requireString(kp.Path, fldPath.Child("path"))...)
	allErrs = append(allErrs, validateLocalNonReservedPath(kp.Path, fldPath.Child("path"))...)
	allErrs = append(allErrs, validateFileMode(kp.Mode, fldPath.Child("mode"))...)
	return append(allErrs, validateUserField(kp.User, fldPath.Child("user"))...)
}

func validateNFSVolumeSource(nfs *corev1.NFSVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := requireString(nfs.Server, fldPath.Child("server"))
	allErrs = append(allErrs, requireString(nfs.Path, fldPath.Child("path"))...)
	if !path.IsAbs(nfs.Path) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("path"), nfs.Path, "must be an absolute path"))
	}
	return allErrs
}

func validateQuobyteVolumeSource(q *corev1.QuobyteVolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case len(q.Registry) == 0:
		allErrs = append(allErrs, field.Required(fldPath.Child("registry"), "must be a host:port pair or multiple pairs separated by commas"))
	case len(q.Tenant) >= 65:
		allErrs = append(allErrs, field.Required(fldPath.Child("tenant"), "must be a UUID and may not exceed a length of 64 characters"))
	default:
		for _, pair := range strings.Split(q.Registry, ",") {
			if _, _, err := net.SplitHostPort(pair); err != nil {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("registry"), q.Registry, "must be a host:port pair or multiple pairs separated by commas"))
			}
		}
	}
	return append(allErrs, requireString(q.Volume, fldPath.Child("volume"))...)
}

func validateGlusterfsVolumeSource(g *corev1.GlusterfsVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := requireString(g.EndpointsName, fldPath.Child("endpoints"))
	return append(allErrs, requireString(g.Path, fldPath.Child("path"))...)
}

func validateGlusterfsPersistentVolumeSource(g *corev1.GlusterfsPersistentVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := requireString(g.EndpointsName, fldPath.Child("endpoints"))
	allErrs = append(allErrs, requireString(g.Path, fldPath.Child("path"))...)
	if g.EndpointsNamespace != nil {
		ns := *g.EndpointsNamespace
		if ns == "" {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("endpointsNamespace"), ns, "if the endpointnamespace is set, it must be a valid namespace name"))
		} else {
			allErrs = append(allErrs, validateName(namespaceNameFunc, ns, fldPath.Child("endpointsNamespace"))...)
		}
	}
	return allErrs
}

func validateFlockerVolumeSource(f *corev1.FlockerVolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(f.DatasetName) == 0 && len(f.DatasetUUID) == 0 {
		allErrs = append(allErrs, field.Required(fldPath, "one of datasetName and datasetUUID is required"))
	}
	if len(f.DatasetName) != 0 && len(f.DatasetUUID) != 0 {
		allErrs = append(allErrs, field.Invalid(fldPath, "resource", "datasetName and datasetUUID can not be specified simultaneously"))
	}
	if strings.Contains(f.DatasetName, "/") {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("datasetName"), f.DatasetName, "must not contain '/'"))
	}
	return allErrs
}

func validateRBD(monitors []string, image string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(monitors) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("monitors"), ""))
	}
	return append(allErrs, requireString(image, fldPath.Child("image"))...)
}

func validateCinderVolumeSource(cd *corev1.CinderVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := requireString(cd.VolumeID, fldPath.Child("volumeID"))
	if cd.SecretRef != nil && len(cd.SecretRef.Name) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("secretRef", "name"), ""))
	}
	return allErrs
}

func validateCinderPersistentVolumeSource(cd *corev1.CinderPersistentVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := requireString(cd.VolumeID, fldPath.Child("volumeID"))
	if cd.SecretRef != nil {
		allErrs = append(allErrs, requireString(cd.SecretRef.Name, fldPath.Child("secretRef", "name"))...)
		allErrs = append(allErrs, requireString(cd.SecretRef.Namespace, fldPath.Child("secretRef", "namespace"))...)
	}
	return allErrs
}

func validateCephFSMonitors(monitors []string, fldPath *field.Path) field.ErrorList {
	if len(monitors) == 0 {
		return field.ErrorList{field.Required(fldPath.Child("monitors"), "")}
	}
	return nil
}

func validateFlexVolume(driver string, options map[string]string, fldPath *field.Path) field.ErrorList {
	allErrs := requireString(driver, fldPath.Child("driver"))
	for _, k := range sortedKeys(options) {
		ns := k
		if before, _, ok := strings.Cut(k, "/"); ok {
			ns = before
		}
		normalized := "." + strings.ToLower(ns)
		if strings.HasSuffix(normalized, ".kubernetes.io") || strings.HasSuffix(normalized, ".k8s.io") {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("options").Key(k), k, "kubernetes.io and k8s.io namespaces are reserved"))
		}
	}
	return allErrs
}

func validateAzureFile(secretName, shareName string, secretNamespace *string, fldPath *field.Path) field.ErrorList {
	allErrs := requireString(secretName, fldPath.Child("secretName"))
	allErrs = append(allErrs, requireString(shareName, fldPath.Child("shareName"))...)
	if secretNamespace != nil && len(*secretNamespace) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("secretNamespace"), ""))
	}
	return allErrs
}

func validateAzureDisk(azure *corev1.AzureDiskVolumeSource, fldPath *field.Path) field.ErrorList {
	cachingModes := sets.New(corev1.AzureDataDiskCachingNone, corev1.AzureDataDiskCachingReadOnly, corev1.AzureDataDiskCachingReadWrite)
	diskKinds := sets.New(corev1.AzureSharedBlobDisk, corev1.AzureDedicatedBlobDisk, corev1.AzureManagedDisk)
	allErrs := requireString(azure.DiskName, fldPath.Child("diskName"))
	allErrs = append(allErrs, requireString(azure.DataDiskURI, fldPath.Child("diskURI"))...)
	if azure.CachingMode != nil && !cachingModes.Has(*azure.CachingMode) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("cachingMode"), *azure.CachingMode, sets.List(cachingModes)))
	}
	if azure.Kind != nil && !diskKinds.Has(*azure.Kind) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("kind"), *azure.Kind, sets.List(diskKinds)))
	}
	if azure.Kind != nil && *azure.Kind == corev1.AzureManagedDisk && !strings.HasPrefix(azure.DataDiskURI, "/subscriptions/") {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("diskURI"), azure.DataDiskURI, []string{"/subscriptions/{sub-id}/resourcegroups/{group-name}/providers/microsoft.compute/disks/{disk-id}"}))
	}
	if azure.Kind != nil && *azure.Kind != corev1.AzureManagedDisk && !strings.HasPrefix(azure.DataDiskURI, "https://") {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("diskURI"), azure.DataDiskURI, []string{"https://{account-name}.blob.core.windows.net/{container-name}/{disk-name}.vhd"}))
	}
	return allErrs
}

func validateScaleIO(gateway, system, volumeName string, fldPath *field.Path) field.ErrorList {
	allErrs := requireString(gateway, fldPath.Child("gateway"))
	allErrs = append(allErrs, requireString(system, fldPath.Child("system"))...)
	return append(allErrs, requireString(volumeName, fldPath.Child("volumeName"))...)
}

// validateStorageOS covers the pod and PV variants; PVs also require the
// secret's namespace.
func validateStorageOS(volumeName, volumeNamespace string, hasSecret bool, secretName, secretNamespace string, requireSecretNamespace bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(volumeName) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("volumeName"), ""))
	} else {
		allErrs = append(allErrs, validateDNS1123Label(volumeName, fldPath.Child("volumeName"))...)
	}
	if len(volumeNamespace) > 0 {
		allErrs = append(allErrs, validateDNS1123Label(volumeNamespace, fldPath.Child("volumeNamespace"))...)
	}
	if hasSecret {
		allErrs = append(allErrs, requireString(secretName, fldPath.Child("secretRef", "name"))...)
		if requireSecretNamespace {
			allErrs = append(allErrs, requireString(secretNamespace, fldPath.Child("secretRef", "namespace"))...)
		}
	}
	return allErrs
}

var validVolumeDownwardAPIFieldPathExpressions = sets.New("metadata.name", "metadata.namespace", "metadata.labels", "metadata.annotations", "metadata.uid")

func validateDownwardAPIVolumeFile(file *corev1.DownwardAPIVolumeFile, fldPath *field.Path) field.ErrorList {
	allErrs := requireString(file.Path, fldPath.Child("path"))
	allErrs = append(allErrs, validateLocalNonReservedPath(file.Path, fldPath.Child("path"))...)
	switch {
	case file.FieldRef != nil:
		allErrs = append(allErrs, validateObjectFieldSelector(file.FieldRef, validVolumeDownwardAPIFieldPathExpressions, fldPath.Child("fieldRef"))...)
		if file.ResourceFieldRef != nil {
			allErrs = append(allErrs, field.Invalid(fldPath, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		}
	case file.ResourceFieldRef != nil:
		allErrs = append(allErrs, validateContainerResourceFieldSelector(file.ResourceFieldRef, fldPath.Child("resourceFieldRef"), true)...)
	default:
		allErrs = append(allErrs, field.Required(fldPath, "one of fieldRef and resourceFieldRef is required"))
	}
	allErrs = append(allErrs, validateFileMode(file.Mode, fldPath.Child("mode"))...)
	return append(allErrs, validateUserField(file.User, fldPath.Child("user"))...)
}

func validateDownwardAPIVolumeSource(d *corev1.DownwardAPIVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := validateFileMode(d.DefaultMode, fldPath.Child("defaultMode"))
	allErrs = append(allErrs, validateUserField(d.DefaultUser, fldPath.Child("defaultUser"))...)
	for i := range d.Items {
		allErrs = append(allErrs, validateDownwardAPIVolumeFile(&d.Items[i], fldPath)...)
	}
	return allErrs
}

func validateProjectedVolumeSource(p *corev1.ProjectedVolumeSource, fldPath *field.Path, opts podOptions) field.ErrorList {
	allErrs := validateFileMode(p.DefaultMode, fldPath.Child("defaultMode"))
	allErrs = append(allErrs, validateUserField(p.DefaultUser, fldPath.Child("defaultUser"))...)
	return append(allErrs, validateProjectionSources(p, fldPath, opts)...)
}

func validateProjectionSources(projection *corev1.ProjectedVolumeSource, fldPath *field.Path, opts podOptions) field.ErrorList {
	var allErrs field.ErrorList
	allPaths := sets.Set[string]{}
	// claimPath records a projected path and reports a collision at the
	// volume level, naming what collided the way upstream does.
	claimPath := func(p string, reported any) {
		if allPaths.Has(p) {
			allErrs = append(allErrs, field.Invalid(fldPath, reported, "conflicting duplicate paths"))
			return
		}
		allPaths.Insert(p)
	}
	for i, source := range projection.Sources {
		numSources := 0
		srcPath := fldPath.Child("sources").Index(i)
		if s := source.Secret; s != nil {
			numSources++
			projPath := srcPath.Child("secret")
			allErrs = append(allErrs, requireString(s.Name, projPath.Child("name"))...)
			for j := range s.Items {
				allErrs = append(allErrs, validateKeyToPath(&s.Items[j], projPath.Child("items").Index(j))...)
				if p := s.Items[j].Path; len(p) > 0 {
					claimPath(p, s.Name)
				}
			}
		}
		if c := source.ConfigMap; c != nil {
			numSources++
			projPath := srcPath.Child("configMap")
			allErrs = append(allErrs, requireString(c.Name, projPath.Child("name"))...)
			for j := range c.Items {
				allErrs = append(allErrs, validateKeyToPath(&c.Items[j], projPath.Child("items").Index(j))...)
				if p := c.Items[j].Path; len(p) > 0 {
					claimPath(p, c.Name)
				}
			}
		}
		if d := source.DownwardAPI; d != nil {
			numSources++
			projPath := srcPath.Child("downwardAPI")
			for j := range d.Items {
				allErrs = append(allErrs, validateDownwardAPIVolumeFile(&d.Items[j], projPath)...)
				if p := d.Items[j].Path; len(p) > 0 {
					claimPath(p, p)
				}
			}
		}
		if t := source.ServiceAccountToken; t != nil {
			numSources++
			projPath := srcPath.Child("serviceAccountToken")
			if t.ExpirationSeconds == nil {
				allErrs = append(allErrs, field.Required(projPath.Child("expirationSeconds"), ""))
			} else {
				exp := *t.ExpirationSeconds
				if exp < 10*60 {
					allErrs = append(allErrs, field.Invalid(projPath.Child("expirationSeconds"), exp, "may not specify a duration less than 10 minutes"))
				}
				if exp > 1<<32 {
					allErrs = append(allErrs, field.Invalid(projPath.Child("expirationSeconds"), exp, "may not specify a duration larger than 2^32 seconds"))
				}
			}
			if t.Path == "" {
				allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
			} else if !opts.allowNonLocalProjectedTokenPath {
				allErrs = append(allErrs, validateLocalNonReservedPath(t.Path, fldPath.Child("path"))...)
			}
			allErrs = append(allErrs, validateUserField(t.User, projPath.Child("user"))...)
		}
		if ctb := source.ClusterTrustBundle; ctb != nil {
			numSources++
			allErrs = append(allErrs, validateClusterTrustBundleProjection(ctb, srcPath.Child("clusterTrustBundle"))...)
			claimPath(ctb.Path, ctb.Path)
		}
		if pc := source.PodCertificate; pc != nil {
			numSources++
			projPath := srcPath.Child("podCertificate")
			allErrs = append(allErrs, validateSignerName(projPath.Child("signerName"), pc.SignerName)...)
			if pc.UserAnnotations != nil {
				allErrs = append(allErrs, validateUserAnnotations(pc.UserAnnotations, projPath.Child("userAnnotations"))...)
			}
			allErrs = append(allErrs, validateUserField(pc.User, projPath.Child("user"))...)
			if !sets.New(supportedPodCertKeyType...).Has(pc.KeyType) {
				allErrs = append(allErrs, field.NotSupported(projPath.Child("keyType"), pc.KeyType, supportedPodCertKeyType))
			}
			if pc.MaxExpirationSeconds != nil {
				maxExp := *pc.MaxExpirationSeconds
				if maxExp < 3600 {
					allErrs = append(allErrs, field.Invalid(projPath.Child("maxExpirationSeconds"), maxExp, "if provided, maxExpirationSeconds must be >= 3600"))
				}
				limit := podCertMaxMaxExpirationSeconds
				if isKubernetesSignerName(pc.SignerName) {
					limit = podCertKubernetesMaxMaxExpirationSeconds
				}
				if maxExp > int32(limit) {
					allErrs = append(allErrs, field.Invalid(projPath.Child("maxExpirationSeconds"), maxExp, fmt.Sprintf("if provided, maxExpirationSeconds must be <= %d", limit)))
				}
			}
			numPaths := 0
			for _, p := range []struct {
				value string
				name  string
			}{{pc.CredentialBundlePath, "credentialBundlePath"}, {pc.KeyPath, "keyPath"}, {pc.CertificateChainPath, "certificateChainPath"}} {
				if p.value == "" {
					continue
				}
				numPaths++
				allErrs = append(allErrs, validateLocalNonReservedPath(p.value, projPath.Child(p.name))...)
				claimPath(p.value, p.value)
			}
			if numPaths == 0 {
				allErrs = append(allErrs, field.Required(projPath, "specify at least one of credentialBundlePath, keyPath, and certificateChainPath"))
			}
		}
		if numSources > 1 {
			allErrs = append(allErrs, field.Forbidden(srcPath, "may not specify more than 1 volume type per source"))
		}
	}
	return allErrs
}

func validateClusterTrustBundleProjection(ctb *corev1.ClusterTrustBundleProjection, projPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	usingName, usingSigner := ctb.Name != nil, ctb.SignerName != nil
	switch {
	case usingName && usingSigner:
		allErrs = append(allErrs, field.Invalid(projPath, ctb, "only one of name and signerName may be used"))
	case usingName:
		name := *ctb.Name
		if name == "" {
			allErrs = append(allErrs, field.Required(projPath.Child("name"), "must be a valid object name"))
		}
		signer, _ := signerNameFromClusterTrustBundleName(name)
		for _, msg := range clusterTrustBundleNameFunc(signer)(name, false) {
			allErrs = append(allErrs, field.Invalid(projPath.Child("name"), name, fmt.Sprintf("not a valid clustertrustbundlename: %v", msg)))
		}
		if ctb.LabelSelector != nil {
			allErrs = append(allErrs, field.Invalid(projPath.Child("labelSelector"), ctb.LabelSelector, "labelSelector must be unset if name is specified"))
		}
	case usingSigner:
		if *ctb.SignerName == "" {
			allErrs = append(allErrs, field.Required(projPath.Child("signerName"), "must be a valid signer name"))
		}
		allErrs = append(allErrs, validateSignerName(projPath.Child("signerName"), *ctb.SignerName)...)
		allErrs = append(allErrs, metavalidation.ValidateLabelSelector(ctb.LabelSelector, metavalidation.LabelSelectorValidationOptions{}, projPath.Child("labelSelector"))...)
	default:
		allErrs = append(allErrs, field.Required(projPath, "either name or signerName must be specified"))
	}
	allErrs = append(allErrs, requireString(ctb.Path, projPath.Child("path"))...)
	allErrs = append(allErrs, validateUserField(ctb.User, projPath.Child("user"))...)
	allErrs = append(allErrs, validateLocalNonReservedPath(ctb.Path, projPath.Child("path"))...)
	return allErrs
}

func validateLocalDescendingPath(targetPath string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if path.IsAbs(targetPath) {
		allErrs = append(allErrs, field.Invalid(fldPath, targetPath, "must be a relative path"))
	}
	return append(allErrs, validatePathNoBacksteps(targetPath, fldPath)...)
}

func validatePathNoBacksteps(targetPath string, fldPath *field.Path) field.ErrorList {
	for _, item := range strings.Split(filepath.ToSlash(targetPath), "/") {
		if item == ".." {
			return field.ErrorList{field.Invalid(fldPath, targetPath, "must not contain '..'")}
		}
	}
	return nil
}

func validateLocalNonReservedPath(targetPath string, fldPath *field.Path) field.ErrorList {
	allErrs := validateLocalDescendingPath(targetPath, fldPath)
	if strings.HasPrefix(targetPath, "..") && !strings.HasPrefix(targetPath, "../") {
		allErrs = append(allErrs, field.Invalid(fldPath, targetPath, "must not start with '..'"))
	}
	return allErrs
}

func validateLocalVolumeSource(ls *corev1.LocalVolumeSource, fldPath *field.Path) field.ErrorList {
	if ls.Path == "" {
		return field.ErrorList{field.Required(fldPath.Child("path"), "")}
	}
	return validatePathNoBacksteps(ls.Path, fldPath.Child("path"))
}

func validatePVSecretReference(ref *corev1.SecretReference, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(ref.Name) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	} else {
		allErrs = append(allErrs, validateDNS1123Subdomain(ref.Name, fldPath.Child("name"))...)
	}
	if len(ref.Namespace) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("namespace"), ""))
	} else {
		allErrs = append(allErrs, validateDNS1123Label(ref.Namespace, fldPath.Child("namespace"))...)
	}
	return allErrs
}

// validateCSIDriverName checks a CSI driver name; covered marks the errors
// that declarative validation of the caller's type also reports.
func validateCSIDriverName(driverName string, fldPath *field.Path, covered bool) field.ErrorList {
	var allErrs field.ErrorList
	if len(driverName) == 0 {
		err := field.Required(fldPath, "")
		if covered {
			err = err.MarkCoveredByDeclarative()
		}
		return append(allErrs, err)
	}
	if len(driverName) > 63 {
		err := field.TooLong(fldPath, "", 63)
		if covered {
			err = err.WithOrigin("maxLength").MarkCoveredByDeclarative()
		}
		allErrs = append(allErrs, err)
	}
	for _, msg := range utilvalidation.IsDNS1123Subdomain(strings.ToLower(driverName)) {
		err := field.Invalid(fldPath, driverName, msg)
		if covered {
			err = err.WithOrigin("format=k8s-long-name-caseless").MarkCoveredByDeclarative()
		}
		allErrs = append(allErrs, err)
	}
	return allErrs
}

func validateCSIPersistentVolumeSource(csi *corev1.CSIPersistentVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := validateCSIDriverName(csi.Driver, fldPath.Child("driver"), false)
	allErrs = append(allErrs, requireString(csi.VolumeHandle, fldPath.Child("volumeHandle"))...)
	for _, ref := range []struct {
		ref  *corev1.SecretReference
		name string
	}{
		{csi.ControllerPublishSecretRef, "controllerPublishSecretRef"},
		{csi.ControllerExpandSecretRef, "controllerExpandSecretRef"},
		{csi.NodePublishSecretRef, "nodePublishSecretRef"},
		{csi.NodeExpandSecretRef, "nodeExpandSecretRef"},
	} {
		if ref.ref != nil {
			allErrs = append(allErrs, validatePVSecretReference(ref.ref, fldPath.Child(ref.name))...)
		}
	}
	return allErrs
}

func validateCSIVolumeSource(csi *corev1.CSIVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := validateCSIDriverName(csi.Driver, fldPath.Child("driver"), false)
	if ref := csi.NodePublishSecretRef; ref != nil {
		if len(ref.Name) == 0 {
			allErrs = append(allErrs, field.Required(fldPath.Child("nodePublishSecretRef", "name"), ""))
		} else {
			allErrs = append(allErrs, validateName(nameIsDNSSubdomain, ref.Name, fldPath.Child("name"))...)
		}
	}
	return allErrs
}

func validateEphemeralVolumeSource(e *corev1.EphemeralVolumeSource, fldPath *field.Path) field.ErrorList {
	if e.VolumeClaimTemplate == nil {
		return field.ErrorList{field.Required(fldPath.Child("volumeClaimTemplate"), "")}
	}
	opts := pvcTemplateOptions(e.VolumeClaimTemplate, nil)
	return validatePersistentVolumeClaimTemplate(e.VolumeClaimTemplate, fldPath.Child("volumeClaimTemplate"), opts)
}

func validatePersistentVolumeClaimTemplate(t *corev1.PersistentVolumeClaimTemplate, fldPath *field.Path, opts pvcOptions) field.ErrorList {
	allErrs := validateTemplateObjectMeta(&t.ObjectMeta, fldPath.Child("metadata"))
	return append(allErrs, validatePersistentVolumeClaimSpec(&t.Spec, fldPath.Child("spec"), opts)...)
}

func validateImageVolumeSource(img *corev1.ImageVolumeSource, fldPath *field.Path, opts podOptions) field.ErrorList {
	var allErrs field.ErrorList
	if !opts.allowEmptyImageVolumeReference && len(img.Reference) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("reference"), ""))
	}
	return append(allErrs, validatePullPolicy(img.PullPolicy, fldPath.Child("pullPolicy"))...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}

func validateUserField(user *int64, fldPath *field.Path) field.ErrorList {
	if user == nil {
		return nil
	}
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsValidUserID(*user) {
		allErrs = append(allErrs, field.Invalid(fldPath, *user, msg))
	}
	return allErrs
}
