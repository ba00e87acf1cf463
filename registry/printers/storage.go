package printers

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	defaultStorageClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	betaDefaultStorageClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

func addStorageHandlers(h handlers) {
	register(h, storageClassColumns(), func(l *storagev1.StorageClassList) []storagev1.StorageClass { return l.Items }, printStorageClass)
	registerList(h, storageClassColumns(), printStorageClassList)
	register(h, csiDriverColumns(), func(l *storagev1.CSIDriverList) []storagev1.CSIDriver { return l.Items }, printCSIDriver)
	register(h, csiNodeColumns(), func(l *storagev1.CSINodeList) []storagev1.CSINode { return l.Items }, printCSINode)
	register(h, volumeAttachmentColumns(), func(l *storagev1.VolumeAttachmentList) []storagev1.VolumeAttachment { return l.Items }, printVolumeAttachment)
	register(h, volumeAttributesClassColumns(), func(l *storagev1.VolumeAttributesClassList) []storagev1.VolumeAttributesClass { return l.Items }, printVolumeAttributesClass)
	register(h, csiStorageCapacityColumns(), func(l *storagev1.CSIStorageCapacityList) []storagev1.CSIStorageCapacity { return l.Items }, printCSIStorageCapacity)
}

func storageClassColumns() []metav1.TableColumnDefinition {
	doc := storagev1.StorageClass{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Provisioner", doc["provisioner"]),
		stringColumn("ReclaimPolicy", doc["reclaimPolicy"]),
		stringColumn("VolumeBindingMode", doc["volumeBindingMode"]),
		stringColumn("AllowVolumeExpansion", doc["allowVolumeExpansion"]),
		ageColumn(),
	}
}

// printStorageClass prints one class; only a list can tell which class is
// the effective default, so a single class never shows "(default)".
func printStorageClass(sc *storagev1.StorageClass, _ options) (metav1.TableRow, error) {
	return storageClassRow(sc, false)
}

func printStorageClassList(list *storagev1.StorageClassList, _ options) ([]metav1.TableRow, error) {
	effective := effectiveDefaultStorageClass(list.Items)
	rows := make([]metav1.TableRow, 0, len(list.Items))
	for i := range list.Items {
		sc := &list.Items[i]
		row, err := storageClassRow(sc, effective != "" && sc.Name == effective)
		if err != nil {
			return nil, err
		}
		row.Object.Object = sc
		rows = append(rows, row)
	}
	return rows, nil
}

func storageClassRow(sc *storagev1.StorageClass, isDefault bool) (metav1.TableRow, error) {
	name := sc.Name
	if isDefault {
		name += " (default)"
	}
	reclaim := string(corev1.PersistentVolumeReclaimDelete)
	if sc.ReclaimPolicy != nil {
		reclaim = string(*sc.ReclaimPolicy)
	}
	binding := string(storagev1.VolumeBindingImmediate)
	if sc.VolumeBindingMode != nil {
		binding = string(*sc.VolumeBindingMode)
	}
	expansion := sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
	return cells(name, sc.Provisioner, reclaim, binding, expansion, age(sc.CreationTimestamp))
}

// effectiveDefaultStorageClass is the default class that admission picks
// when several are marked: the newest, and of equally new ones the first by
// name.
func effectiveDefaultStorageClass(classes []storagev1.StorageClass) string {
	var best *storagev1.StorageClass
	for i := range classes {
		sc := &classes[i]
		if sc.Annotations[defaultStorageClassAnnotation] != "true" && sc.Annotations[betaDefaultStorageClassAnnotation] != "true" {
			continue
		}
		switch {
		case best == nil,
			sc.CreationTimestamp.After(best.CreationTimestamp.Time),
			sc.CreationTimestamp.Equal(&best.CreationTimestamp) && sc.Name < best.Name:
			best = sc
		}
	}
	if best == nil {
		return ""
	}
	return best.Name
}

func csiDriverColumns() []metav1.TableColumnDefinition {
	spec := storagev1.CSIDriverSpec{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		booleanColumn("AttachRequired", spec["attachRequired"]),
		booleanColumn("PodInfoOnMount", spec["podInfoOnMount"]),
		booleanColumn("StorageCapacity", spec["storageCapacity"]),
		stringColumn("TokenRequests", spec["tokenRequests"]),
		booleanColumn("RequiresRepublish", spec["requiresRepublish"]),
		stringColumn("Modes", spec["volumeLifecycleModes"]),
		ageColumn(),
	}
}

func printCSIDriver(d *storagev1.CSIDriver, _ options) (metav1.TableRow, error) {
	attachRequired := d.Spec.AttachRequired == nil || *d.Spec.AttachRequired
	podInfoOnMount := d.Spec.PodInfoOnMount != nil && *d.Spec.PodInfoOnMount
	storageCapacity := d.Spec.StorageCapacity != nil && *d.Spec.StorageCapacity
	requiresRepublish := d.Spec.RequiresRepublish != nil && *d.Spec.RequiresRepublish
	tokenRequests := "<unset>"
	if d.Spec.TokenRequests != nil {
		audiences := make([]string, 0, len(d.Spec.TokenRequests))
		for _, t := range d.Spec.TokenRequests {
			audiences = append(audiences, t.Audience)
		}
		tokenRequests = strings.Join(audiences, ",")
	}
	modes := make([]string, 0, len(d.Spec.VolumeLifecycleModes))
	for _, m := range d.Spec.VolumeLifecycleModes {
		modes = append(modes, string(m))
	}
	return cells(d.Name, attachRequired, podInfoOnMount, storageCapacity, tokenRequests, requiresRepublish,
		orNone(strings.Join(modes, ",")), age(d.CreationTimestamp))
}

func csiNodeColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		integerColumn("Drivers", "Drivers indicates the number of CSI drivers registered on the node"),
		ageColumn(),
	}
}

func printCSINode(n *storagev1.CSINode, _ options) (metav1.TableRow, error) {
	return cells(n.Name, int64(len(n.Spec.Drivers)), age(n.CreationTimestamp))
}

func volumeAttachmentColumns() []metav1.TableColumnDefinition {
	attacher := stringColumn("Attacher", storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["attacher"])
	attacher.Format = "name"
	return []metav1.TableColumnDefinition{
		nameColumn(),
		attacher,
		stringColumn("PV", storagev1.VolumeAttachmentSource{}.SwaggerDoc()["persistentVolumeName"]),
		stringColumn("Node", storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["nodeName"]),
		booleanColumn("Attached", storagev1.VolumeAttachmentStatus{}.SwaggerDoc()["attached"]),
		ageColumn(),
	}
}

func printVolumeAttachment(va *storagev1.VolumeAttachment, _ options) (metav1.TableRow, error) {
	pv := ""
	if va.Spec.Source.PersistentVolumeName != nil {
		pv = *va.Spec.Source.PersistentVolumeName
	}
	return cells(va.Name, va.Spec.Attacher, pv, va.Spec.NodeName, va.Status.Attached, age(va.CreationTimestamp))
}

func volumeAttributesClassColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("DriverName", storagev1.VolumeAttributesClass{}.SwaggerDoc()["driverName"]),
		ageColumn(),
	}
}

func printVolumeAttributesClass(c *storagev1.VolumeAttributesClass, _ options) (metav1.TableRow, error) {
	return cells(c.Name, c.DriverName, age(c.CreationTimestamp))
}

// CSIStorageCapacity has a printer upstream, but its storage serves the
// default table; the printer is kept for objects of this type handed to
// another printed resource's convertor.
func csiStorageCapacityColumns() []metav1.TableColumnDefinition {
	doc := storagev1.CSIStorageCapacity{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("StorageClassName", doc["storageClassName"]),
		stringColumn("Capacity", doc["capacity"]),
	}
}

func printCSIStorageCapacity(c *storagev1.CSIStorageCapacity, _ options) (metav1.TableRow, error) {
	capacity := "<unset>"
	if c.Capacity != nil {
		capacity = c.Capacity.String()
	}
	return cells(c.Name, c.StorageClassName, capacity)
}
