package validation

import (
	"fmt"
	"path"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	supportedAccessModes   = sets.New(corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod)
	supportedReclaimPolicy = sets.New(corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain)
	supportedVolumeModes   = sets.New(corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem)
	resizeStatusSet        = sets.New(corev1.PersistentVolumeClaimControllerResizeInProgress, corev1.PersistentVolumeClaimControllerResizeInfeasible,
		corev1.PersistentVolumeClaimNodeResizePending, corev1.PersistentVolumeClaimNodeResizeInProgress, corev1.PersistentVolumeClaimNodeResizeInfeasible)

	// betaToGALabel lists node labels a PV's node affinity may move from the
	// beta key to the GA key even though node affinity is otherwise immutable.
	betaToGALabel = map[string]string{
		corev1.LabelFailureDomainBetaZone:   corev1.LabelTopologyZone,
		corev1.LabelFailureDomainBetaRegion: corev1.LabelTopologyRegion,
		"beta.kubernetes.io/os":             corev1.LabelOSStable,
		"beta.kubernetes.io/arch":           corev1.LabelArchStable,
		corev1.LabelInstanceType:            corev1.LabelInstanceTypeStable,
	}
)

type pvOptions struct {
	allowInvalidLabelValueInRequiredNodeAffinity bool
}

type pvcOptions struct {
	allowInvalidLabelValueInSelector      bool
	allowInvalidAPIGroupInDataSourceOrRef bool
}

func pvcTemplateOptions(t, old *corev1.PersistentVolumeClaimTemplate) pvcOptions {
	var opts pvcOptions
	if old != nil && len(validateLabelSelector(old.Spec.Selector, false, nil)) > 0 {
		opts.allowInvalidLabelValueInSelector = true
	}
	return opts
}

func pvcValidationOptions(old *corev1.PersistentVolumeClaim) pvcOptions {
	var opts pvcOptions
	if old == nil {
		return opts
	}
	opts.allowInvalidAPIGroupInDataSourceOrRef = (old.Spec.DataSource != nil && old.Spec.DataSource.APIGroup != nil) ||
		(old.Spec.DataSourceRef != nil && old.Spec.DataSourceRef.APIGroup != nil)
	if len(validateLabelSelector(old.Spec.Selector, false, nil)) > 0 {
		opts.allowInvalidLabelValueInSelector = true
	}
	return opts
}

func validateAccessModes(modes []corev1.PersistentVolumeAccessMode, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	rwop, other := false, false
	for _, mode := range modes {
		if !supportedAccessModes.Has(mode) {
			allErrs = append(allErrs, field.NotSupported(fldPath, mode, sets.List(supportedAccessModes)))
		}
		if mode == corev1.ReadWriteOncePod {
			rwop = true
		} else if supportedAccessModes.Has(mode) {
			other = true
		}
	}
	if rwop && other {
		allErrs = append(allErrs, field.Forbidden(fldPath, "may not use ReadWriteOncePod with other access modes"))
	}
	return allErrs
}

// validatePersistentVolumeSpec validates a PV spec; inline is set for the
// spec embedded in a VolumeAttachment, which has tighter rules.
func validatePersistentVolumeSpec(spec *corev1.PersistentVolumeSpec, pvName string, inline bool, fldPath *field.Path, opts pvOptions) field.ErrorList {
	var allErrs field.ErrorList
	if inline {
		if spec.ClaimRef != nil {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("claimRef"), "may not be specified in the context of inline volumes"))
		}
		if len(spec.Capacity) != 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("capacity"), "may not be specified in the context of inline volumes"))
		}
		if spec.CSI == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("csi"), "has to be specified in the context of inline volumes"))
		}
	}
	if len(spec.AccessModes) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("accessModes"), ""))
	}
	allErrs = append(allErrs, validateAccessModes(spec.AccessModes, fldPath.Child("accessModes"))...)
	if !inline {
		capPath := fldPath.Child("capacity")
		if len(spec.Capacity) == 0 {
			allErrs = append(allErrs, field.Required(capPath, ""))
		}
		if _, ok := spec.Capacity[corev1.ResourceStorage]; !ok || len(spec.Capacity) > 1 {
			allErrs = append(allErrs, field.NotSupported(capPath, spec.Capacity, []corev1.ResourceName{corev1.ResourceStorage}))
		}
		for _, r := range sortedResourceNames(spec.Capacity) {
			q := spec.Capacity[r]
			allErrs = append(allErrs, validateBasicResource(q, capPath.Key(string(r)))...)
			allErrs = append(allErrs, validatePositiveQuantityValue(q, capPath.Key(string(r)))...)
		}
	}
	if p := spec.PersistentVolumeReclaimPolicy; len(p) > 0 {
		if inline {
			if p != corev1.PersistentVolumeReclaimRetain {
				allErrs = append(allErrs, field.Forbidden(fldPath.Child("persistentVolumeReclaimPolicy"), "may only be "+string(corev1.PersistentVolumeReclaimRetain)+" in the context of inline volumes"))
			}
		} else if !supportedReclaimPolicy.Has(p) {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("persistentVolumeReclaimPolicy"), p, sets.List(supportedReclaimPolicy)))
		}
	}
	nodeAffinitySpecified := false
	if spec.NodeAffinity != nil {
		if inline {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("nodeAffinity"), "may not be specified in the context of inline volumes"))
		} else {
			nodeAffinitySpecified = true
			if spec.NodeAffinity.Required != nil {
				allErrs = append(allErrs, validateNodeSelector(spec.NodeAffinity.Required, opts.allowInvalidLabelValueInRequiredNodeAffinity, fldPath.Child("nodeAffinity").Child("required"))...)
			} else {
				allErrs = append(allErrs, field.Required(fldPath.Child("nodeAffinity").Child("required"), "must specify required node constraints"))
			}
		}
	}
	s := &spec.PersistentVolumeSource
	kinds := []volumeKind{
		{s.HostPath != nil, "hostPath", func() field.ErrorList { return validateHostPathVolumeSource(s.HostPath, fldPath.Child("hostPath")) }},
		{s.GCEPersistentDisk != nil, "gcePersistentDisk", func() field.ErrorList {
			return validateGCEPersistentDisk(s.GCEPersistentDisk, fldPath.Child("persistentDisk"))
		}},
		{s.AWSElasticBlockStore != nil, "awsElasticBlockStore", func() field.ErrorList {
			return validateAWSElasticBlockStore(s.AWSElasticBlockStore, fldPath.Child("awsElasticBlockStore"))
		}},
		{s.Glusterfs != nil, "glusterfs", func() field.ErrorList {
			return validateGlusterfsPersistentVolumeSource(s.Glusterfs, fldPath.Child("glusterfs"))
		}},
		{s.Flocker != nil, "flocker", func() field.ErrorList { return validateFlockerVolumeSource(s.Flocker, fldPath.Child("flocker")) }},
		{s.NFS != nil, "nfs", func() field.ErrorList { return validateNFSVolumeSource(s.NFS, fldPath.Child("nfs")) }},
		{s.RBD != nil, "rbd", func() field.ErrorList { return validateRBD(s.RBD.CephMonitors, s.RBD.RBDImage, fldPath.Child("rbd")) }},
		{s.Quobyte != nil, "quobyte", func() field.ErrorList { return validateQuobyteVolumeSource(s.Quobyte, fldPath.Child("quobyte")) }},
		{s.CephFS != nil, "cephFS", func() field.ErrorList { return validateCephFSMonitors(s.CephFS.Monitors, fldPath.Child("cephfs")) }},
		{s.ISCSI != nil, "iscsi", func() field.ErrorList {
			return validateISCSIPersistentVolumeSource(s.ISCSI, pvName, fldPath.Child("iscsi"))
		}},
		{s.Cinder != nil, "cinder", func() field.ErrorList {
			return validateCinderPersistentVolumeSource(s.Cinder, fldPath.Child("cinder"))
		}},
		{s.FC != nil, "fc", func() field.ErrorList { return validateFCVolumeSource(s.FC, fldPath.Child("fc")) }},
		// upstream accepts a flex volume without checking for an earlier source.
		{s.FlexVolume != nil, "flexVolume", func() field.ErrorList {
			return validateFlexVolume(s.FlexVolume.Driver, s.FlexVolume.Options, fldPath.Child("flexVolume"))
		}},
		{s.AzureFile != nil, "azureFile", func() field.ErrorList {
			return validateAzureFile(s.AzureFile.SecretName, s.AzureFile.ShareName, s.AzureFile.SecretNamespace, fldPath.Child("azureFile"))
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
		{s.ScaleIO != nil, "scaleIO", func() field.ErrorList {
			return validateScaleIO(s.ScaleIO.Gateway, s.ScaleIO.System, s.ScaleIO.VolumeName, fldPath.Child("scaleIO"))
		}},
		{s.Local != nil, "local", func() field.ErrorList {
			errs := validateLocalVolumeSource(s.Local, fldPath.Child("local"))
			if !nodeAffinitySpecified {
				errs = append(errs, field.Required(fldPath.Child("nodeAffinity"), "Local volume requires node affinity"))
			}
			return errs
		}},
		{s.StorageOS != nil, "storageos", func() field.ErrorList {
			ref := ptrDeref(s.StorageOS.SecretRef, corev1.ObjectReference{})
			return validateStorageOS(s.StorageOS.VolumeName, s.StorageOS.VolumeNamespace, s.StorageOS.SecretRef != nil, ref.Name, ref.Namespace, true, fldPath.Child("storageos"))
		}},
		{s.CSI != nil, "csi", func() field.ErrorList { return validateCSIPersistentVolumeSource(s.CSI, fldPath.Child("csi")) }},
	}
	allErrs = append(allErrs, validateOneOfVolumes(kinds, "flexVolume", fldPath)...)
	if spec.HostPath != nil && path.Clean(spec.HostPath.Path) == "/" && spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimRecycle {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath mount of '/'"))
	}
	if len(spec.StorageClassName) > 0 {
		if inline {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("storageClassName"), "may not be specified in the context of inline volumes"))
		} else {
			allErrs = append(allErrs, validateName(nameIsDNSSubdomain, spec.StorageClassName, fldPath.Child("storageClassName"))...)
		}
	}
	if spec.VolumeMode != nil {
		if inline {
			if *spec.VolumeMode != corev1.PersistentVolumeFilesystem {
				allErrs = append(allErrs, field.Forbidden(fldPath.Child("volumeMode"), "may not specify volumeMode other than "+string(corev1.PersistentVolumeFilesystem)+" in the context of inline volumes"))
			}
		} else if !supportedVolumeModes.Has(*spec.VolumeMode) {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("volumeMode"), *spec.VolumeMode, sets.List(supportedVolumeModes)))
		}
	}
	if vac := spec.VolumeAttributesClassName; vac != nil {
		if len(*vac) == 0 {
			allErrs = append(allErrs, field.Required(fldPath.Child("volumeAttributesClassName"), "an empty string is disallowed"))
		} else {
			allErrs = append(allErrs, validateName(nameIsDNSSubdomain, *vac, fldPath.Child("volumeAttributesClassName"))...)
		}
		if spec.CSI == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("csi"), "has to be specified when using volumeAttributesClassName"))
		}
	}
	return allErrs
}

func pvOptionsFor(old *corev1.PersistentVolume) pvOptions {
	var opts pvOptions
	if old != nil && old.Spec.NodeAffinity != nil && old.Spec.NodeAffinity.Required != nil {
		opts.allowInvalidLabelValueInRequiredNodeAffinity = hasInvalidLabelValueInNodeSelectorTerms(old.Spec.NodeAffinity.Required.NodeSelectorTerms)
	}
	return opts
}

func validatePersistentVolumeWithOpts(pv *corev1.PersistentVolume, opts pvOptions) field.ErrorList {
	allErrs := validateObjectMeta(&pv.ObjectMeta, false, nameIsDNSSubdomain, metadataPath)
	return append(allErrs, validatePersistentVolumeSpec(&pv.Spec, pv.Name, false, field.NewPath("spec"), opts)...)
}

func validatePersistentVolume(pv *corev1.PersistentVolume) field.ErrorList {
	return validatePersistentVolumeWithOpts(pv, pvOptionsFor(nil))
}

func validatePersistentVolumeUpdate(pv, old *corev1.PersistentVolume) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&pv.ObjectMeta, &old.ObjectMeta, metadataPath)
	allErrs = append(allErrs, validatePersistentVolumeWithOpts(pv, pvOptionsFor(old))...)
	newSource := pv.Spec.PersistentVolumeSource
	// A CSI volume may gain a controller expand secret after creation.
	if old.Spec.CSI != nil && old.Spec.CSI.ControllerExpandSecretRef == nil && newSource.CSI != nil && newSource.CSI.ControllerExpandSecretRef != nil {
		csi := *newSource.CSI
		csi.ControllerExpandSecretRef = nil
		newSource.CSI = &csi
	}
	if !apiequality.Semantic.DeepEqual(newSource, old.Spec.PersistentVolumeSource) {
		d := goFieldDiff(old.Spec.PersistentVolumeSource, newSource)
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "persistentvolumesource"), fmt.Sprintf("spec.persistentvolumesource is immutable after creation\n%v", d)))
	}
	allErrs = append(allErrs, validateImmutableField(pv.Spec.VolumeMode, old.Spec.VolumeMode, field.NewPath("volumeMode"))...)
	if old.Spec.NodeAffinity != nil && !pvNodeAffinityEqualModuloGALabels(pv.Spec.NodeAffinity, old.Spec.NodeAffinity) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("nodeAffinity"), pv.Spec.NodeAffinity, fieldImmutableErrorMsg+", except for updating from beta label to GA"))
	}
	if !reflect.DeepEqual(old.Spec.VolumeAttributesClassName, pv.Spec.VolumeAttributesClassName) && old.Spec.VolumeAttributesClassName != nil && pv.Spec.VolumeAttributesClassName == nil {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "volumeAttributesClassName"), "update from non-nil value to nil is forbidden"))
	}
	return allErrs
}

// pvNodeAffinityEqualModuloGALabels compares node affinities, treating a
// requirement key moved from a beta label to its GA label as unchanged.
func pvNodeAffinityEqualModuloGALabels(n, o *corev1.VolumeNodeAffinity) bool {
	if n == nil || o == nil || n.Required == nil || o.Required == nil {
		return apiequality.Semantic.DeepEqual(n, o)
	}
	if len(n.Required.NodeSelectorTerms) != len(o.Required.NodeSelectorTerms) {
		return false
	}
	masked := o.DeepCopy()
	for i := range masked.Required.NodeSelectorTerms {
		nt, ot := n.Required.NodeSelectorTerms[i], masked.Required.NodeSelectorTerms[i]
		if len(nt.MatchExpressions) != len(ot.MatchExpressions) {
			return false
		}
		for j := range ot.MatchExpressions {
			if ot.MatchExpressions[j].Key != nt.MatchExpressions[j].Key && betaToGALabel[ot.MatchExpressions[j].Key] == nt.MatchExpressions[j].Key {
				ot.MatchExpressions[j].Key = nt.MatchExpressions[j].Key
			}
		}
	}
	return apiequality.Semantic.DeepEqual(n, masked)
}

func validatePersistentVolumeStatusUpdate(pv, old *corev1.PersistentVolume) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&pv.ObjectMeta, &old.ObjectMeta, metadataPath)
	if len(pv.ResourceVersion) == 0 {
		allErrs = append(allErrs, field.Required(field.NewPath("resourceVersion"), ""))
	}
	return allErrs
}

func validatePersistentVolumeClaimSpec(spec *corev1.PersistentVolumeClaimSpec, fldPath *field.Path, opts pvcOptions) field.ErrorList {
	var allErrs field.ErrorList
	if len(spec.AccessModes) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("accessModes"), "at least 1 access mode is required"))
	}
	if spec.Selector != nil {
		allErrs = append(allErrs, validateLabelSelector(spec.Selector, opts.allowInvalidLabelValueInSelector, fldPath.Child("selector"))...)
	}
	allErrs = append(allErrs, validateAccessModes(spec.AccessModes, fldPath.Child("accessModes"))...)
	storagePath := fldPath.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		allErrs = append(allErrs, field.Required(storagePath, ""))
	} else if errs := validatePositiveQuantityValue(q, storagePath); len(errs) > 0 {
		allErrs = append(allErrs, errs...)
	} else {
		allErrs = append(allErrs, validateResourceQuantityValue(corev1.ResourceStorage, q, storagePath)...)
	}
	if spec.StorageClassName != nil && len(*spec.StorageClassName) > 0 {
		allErrs = append(allErrs, validateName(nameIsDNSSubdomain, *spec.StorageClassName, fldPath.Child("storageClassName"))...)
	}
	if spec.VolumeMode != nil && !supportedVolumeModes.Has(*spec.VolumeMode) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("volumeMode"), *spec.VolumeMode, sets.List(supportedVolumeModes)))
	}
	if ds := spec.DataSource; ds != nil {
		allErrs = append(allErrs, validateDataSource(ds.Name, ds.Kind, ds.APIGroup, nil, fldPath.Child("dataSource"), opts.allowInvalidAPIGroupInDataSourceOrRef)...)
	}
	if ds := spec.DataSourceRef; ds != nil {
		allErrs = append(allErrs, validateDataSource(ds.Name, ds.Kind, ds.APIGroup, ds.Namespace, fldPath.Child("dataSourceRef"), opts.allowInvalidAPIGroupInDataSourceOrRef)...)
	}
	if ref := spec.DataSourceRef; ref != nil && ref.Namespace != nil && len(*ref.Namespace) > 0 {
		if spec.DataSource != nil {
			allErrs = append(allErrs, field.Invalid(fldPath, fldPath.Child("dataSource"), "may not be specified when dataSourceRef.namespace is specified"))
		}
	} else if spec.DataSource != nil && spec.DataSourceRef != nil {
		ds := spec.DataSource
		if !reflect.DeepEqual(ds.APIGroup, ref.APIGroup) || ds.Kind != ref.Kind || ds.Name != ref.Name {
			allErrs = append(allErrs, field.Invalid(fldPath, fldPath.Child("dataSource"), "must match dataSourceRef"))
		}
	}
	if vac := spec.VolumeAttributesClassName; vac != nil && len(*vac) > 0 {
		allErrs = append(allErrs, validateName(nameIsDNSSubdomain, *vac, fldPath.Child("volumeAttributesClassName"))...)
	}
	return allErrs
}

func validateDataSource(name, kind string, apiGroup, namespace *string, fldPath *field.Path, allowInvalidAPIGroup bool) field.ErrorList {
	allErrs := requireString(name, fldPath.Child("name"))
	allErrs = append(allErrs, requireString(kind, fldPath.Child("kind"))...)
	group := ptrDeref(apiGroup, "")
	if len(group) == 0 && kind != "PersistentVolumeClaim" {
		allErrs = append(allErrs, field.Invalid(fldPath, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
	}
	if len(group) > 0 && !allowInvalidAPIGroup {
		for _, msg := range utilvalidation.IsDNS1123Subdomain(group) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("apiGroup"), group, msg))
		}
	}
	if namespace != nil && len(*namespace) > 0 {
		allErrs = append(allErrs, validateName(namespaceNameFunc, *namespace, fldPath.Child("namespace"))...)
	}
	return allErrs
}

func validatePersistentVolumeClaimWithOpts(pvc *corev1.PersistentVolumeClaim, opts pvcOptions) field.ErrorList {
	allErrs := validateObjectMeta(&pvc.ObjectMeta, true, nameIsDNSSubdomain, metadataPath)
	return append(allErrs, validatePersistentVolumeClaimSpec(&pvc.Spec, field.NewPath("spec"), opts)...)
}

func validatePersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim) field.ErrorList {
	return validatePersistentVolumeClaimWithOpts(pvc, pvcValidationOptions(nil))
}

func validatePersistentVolumeClaimUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&pvc.ObjectMeta, &old.ObjectMeta, metadataPath)
	allErrs = append(allErrs, validatePersistentVolumeClaimWithOpts(pvc, pvcValidationOptions(old))...)
	newClone, oldClone := pvc.DeepCopy(), old.DeepCopy()
	// The volume controller binds a claim by setting volumeName once.
	if len(old.Spec.VolumeName) == 0 {
		oldClone.Spec.VolumeName = newClone.Spec.VolumeName
	}
	if storageClassUpgradeFromAnnotation(old.Annotations, pvc.Annotations, old.Spec.StorageClassName, pvc.Spec.StorageClassName) {
		newClone.Spec.StorageClassName = nil
		metav1.SetMetaDataAnnotation(&newClone.ObjectMeta, corev1.BetaStorageClassAnnotation, old.Annotations[corev1.BetaStorageClassAnnotation])
	} else {
		if n, o := pvc.Annotations[corev1.BetaStorageClassAnnotation], old.Annotations[corev1.BetaStorageClassAnnotation]; n != o {
			allErrs = append(allErrs, field.Invalid(metadataPath.Child("annotations", corev1.BetaStorageClassAnnotation), n, fieldImmutableErrorMsg))
		}
		oldAnn, hasOldAnn := old.Annotations[corev1.BetaStorageClassAnnotation]
		if pvc.Spec.StorageClassName != nil && old.Spec.StorageClassName == nil && (!hasOldAnn || *pvc.Spec.StorageClassName == oldAnn) {
			newClone.Spec.StorageClassName = oldClone.Spec.StorageClassName
		}
	}
	if pvc.Status.Phase == corev1.ClaimBound {
		if newClone.Spec.Resources.Requests != nil {
			newClone.Spec.Resources.Requests[corev1.ResourceStorage] = old.Spec.Resources.Requests[corev1.ResourceStorage]
		}
		newClone.Spec.VolumeAttributesClassName = oldClone.Spec.VolumeAttributesClassName
	}
	if !apiequality.Semantic.DeepEqual(newClone.Spec, oldClone.Spec) {
		d := goFieldDiff(oldClone.Spec, newClone.Spec)
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec"), fmt.Sprintf("spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n%v", d)))
	}
	oldSize := old.Spec.Resources.Requests[corev1.ResourceStorage]
	newSize := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	statusSize := old.Status.Capacity[corev1.ResourceStorage]
	// Shrinking back toward the recorded capacity recovers from a failed expansion.
	if newSize.Cmp(oldSize) < 0 && newSize.Cmp(statusSize) <= 0 {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "resources", "requests", "storage"), "field can not be less than status.capacity"))
	}
	allErrs = append(allErrs, validateImmutableField(pvc.Spec.VolumeMode, old.Spec.VolumeMode, field.NewPath("volumeMode"))...)
	if !reflect.DeepEqual(old.Spec.VolumeAttributesClassName, pvc.Spec.VolumeAttributesClassName) && old.Status.CurrentVolumeAttributesClassName != nil {
		if pvc.Spec.VolumeAttributesClassName == nil {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "volumeAttributesClassName"), "update to nil is forbidden when status.currentVolumeAttributesClassName is not nil"))
		} else if len(*pvc.Spec.VolumeAttributesClassName) == 0 {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "volumeAttributesClassName"), "update to empty string is forbidden when status.currentVolumeAttributesClassName is not nil"))
		}
	}
	return allErrs
}

// storageClassUpgradeFromAnnotation allows moving a claim's class from the
// beta annotation into spec.storageClassName with the same value.
func storageClassUpgradeFromAnnotation(oldAnn, newAnn map[string]string, oldSC, newSC *string) bool {
	oldClass, oldHas := oldAnn[corev1.BetaStorageClassAnnotation]
	newClass, newHas := newAnn[corev1.BetaStorageClassAnnotation]
	return oldHas && oldSC == nil && newSC != nil && *newSC == oldClass && (!newHas || newClass == oldClass)
}

func validatePersistentVolumeClaimStatusUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&pvc.ObjectMeta, &old.ObjectMeta, metadataPath)
	if len(pvc.ResourceVersion) == 0 {
		allErrs = append(allErrs, field.Required(field.NewPath("resourceVersion"), ""))
	}
	if len(pvc.Spec.AccessModes) == 0 {
		allErrs = append(allErrs, field.Required(field.NewPath("Spec", "accessModes"), ""))
	}
	capPath := field.NewPath("status", "capacity")
	for _, r := range sortedResourceNames(pvc.Status.Capacity) {
		allErrs = append(allErrs, validateBasicResource(pvc.Status.Capacity[r], capPath.Key(string(r)))...)
	}
	if hs := pvc.Status.HealthStatus; hs != nil {
		for i, c := range hs.HealthConditions {
			if len(c.Reason) == 0 {
				continue
			}
			for _, msg := range metavalidation.IsValidConditionReason(c.Reason) {
				allErrs = append(allErrs, field.Invalid(field.NewPath("status", "healthStatus").Child("healthConditions").Index(i).Child("reason"), c.Reason, msg))
			}
		}
	}
	statusPath := field.NewPath("status", "allocatedResourceStatuses")
	for _, k := range sortedKeys(toStringMap(pvc.Status.AllocatedResourceStatuses)) {
		v := pvc.Status.AllocatedResourceStatuses[corev1.ResourceName(k)]
		allErrs = append(allErrs, validatePVCResourceKey(k, statusPath)...)
		if !resizeStatusSet.Has(v) {
			allErrs = append(allErrs, field.NotSupported(statusPath, k, sets.List(resizeStatusSet)))
		}
	}
	allocPath := field.NewPath("status", "allocatedResources")
	for _, r := range sortedResourceNames(pvc.Status.AllocatedResources) {
		if errs := validatePVCResourceKey(string(r), allocPath); len(errs) > 0 {
			allErrs = append(allErrs, errs...)
			continue
		}
		q := pvc.Status.AllocatedResources[r]
		if errs := validateBasicResource(q, allocPath.Key(string(r))); len(errs) > 0 {
			allErrs = append(allErrs, errs...)
		} else {
			allErrs = append(allErrs, validateResourceQuantityValue(corev1.ResourceStorage, q, allocPath.Key(string(r)))...)
		}
	}
	return allErrs
}

func toStringMap[K ~string, V any](m map[K]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[string(k)] = v
	}
	return out
}

func validatePVCResourceKey(value string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsQualifiedName(value) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	if len(allErrs) != 0 {
		return allErrs
	}
	if isNativeResource(corev1.ResourceName(value)) && corev1.ResourceName(value) != corev1.ResourceStorage {
		return field.ErrorList{field.NotSupported(fldPath, value, []corev1.ResourceName{corev1.ResourceStorage})}
	}
	return nil
}
