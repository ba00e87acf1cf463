package printers

import (
	"strings"

	resourcev1 "k8s.io/api/resource/v1"
	storagemigrationv1 "k8s.io/api/storagemigration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func addResourceHandlers(h handlers) {
	nameAge := []metav1.TableColumnDefinition{nameColumn(), ageColumn()}
	register(h, nameAge, func(l *resourcev1.DeviceClassList) []resourcev1.DeviceClass { return l.Items }, printDeviceClass)
	register(h, resourceClaimColumns(), func(l *resourcev1.ResourceClaimList) []resourcev1.ResourceClaim { return l.Items }, printResourceClaim)
	register(h, nameAge, func(l *resourcev1.ResourceClaimTemplateList) []resourcev1.ResourceClaimTemplate { return l.Items }, printResourceClaimTemplate)
	register(h, resourceSliceColumns(), func(l *resourcev1.ResourceSliceList) []resourcev1.ResourceSlice { return l.Items }, printResourceSlice)
	register(h, deviceTaintRuleColumns(), func(l *resourcev1.DeviceTaintRuleList) []resourcev1.DeviceTaintRule { return l.Items }, printDeviceTaintRule)
	register(h, storageVersionMigrationColumns(), func(l *storagemigrationv1.StorageVersionMigrationList) []storagemigrationv1.StorageVersionMigration {
		return l.Items
	}, printStorageVersionMigration)
}

func printDeviceClass(c *resourcev1.DeviceClass, _ options) (metav1.TableRow, error) {
	return cells(c.Name, age(c.CreationTimestamp))
}

func resourceClaimColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("State", "A summary of the current state (allocated, pending, reserved, etc.)."),
		ageColumn(),
	}
}

func printResourceClaim(c *resourcev1.ResourceClaim, _ options) (metav1.TableRow, error) {
	return cells(c.Name, resourceClaimState(c), age(c.CreationTimestamp))
}

// resourceClaimState summarises a claim's lifecycle. A claim being deleted
// before it was ever allocated is only "deleted": "pending" would suggest it
// still waits for devices.
func resourceClaimState(c *resourcev1.ResourceClaim) string {
	var states []string
	deleting := c.DeletionTimestamp != nil
	if deleting {
		states = append(states, "deleted")
	}
	switch {
	case c.Status.Allocation != nil:
		states = append(states, "allocated")
		if len(c.Status.ReservedFor) > 0 {
			states = append(states, "reserved")
		}
	case !deleting:
		states = append(states, "pending")
	}
	return strings.Join(states, ",")
}

func printResourceClaimTemplate(t *resourcev1.ResourceClaimTemplate, _ options) (metav1.TableRow, error) {
	return cells(t.Name, age(t.CreationTimestamp))
}

func resourceSliceColumns() []metav1.TableColumnDefinition {
	spec := resourcev1.ResourceSliceSpec{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Node", spec["nodeName"]),
		stringColumn("Driver", spec["driver"]),
		stringColumn("Pool", resourcev1.ResourcePool{}.SwaggerDoc()["name"]),
		ageColumn(),
	}
}

func printResourceSlice(s *resourcev1.ResourceSlice, _ options) (metav1.TableRow, error) {
	node := ""
	if s.Spec.NodeName != nil {
		node = *s.Spec.NodeName
	}
	return cells(s.Name, node, s.Spec.Driver, s.Spec.Pool.Name, age(s.CreationTimestamp))
}

// deviceTaintRuleColumns show the taint but not the device selector, which
// may be long CEL; upstream leaves naming the rule descriptively to the admin.
func deviceTaintRuleColumns() []metav1.TableColumnDefinition {
	taint := resourcev1.DeviceTaint{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Key", taint["key"]),
		stringColumn("Value", taint["value"]),
		stringColumn("Effect", taint["effect"]),
		stringColumn("TimeAdded", taint["timeAdded"]),
		ageColumn(),
	}
}

func printDeviceTaintRule(r *resourcev1.DeviceTaintRule, _ options) (metav1.TableRow, error) {
	taint := r.Spec.Taint
	added := ""
	if taint.TimeAdded != nil {
		added = age(*taint.TimeAdded)
	}
	return cells(r.Name, taint.Key, taint.Value, string(taint.Effect), added, age(r.CreationTimestamp))
}

// storageVersionMigrationColumns: upstream gives this Name column no "name"
// format, unlike every other table.
func storageVersionMigrationColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		stringColumn("Name", metav1.ObjectMeta{}.SwaggerDoc()["name"]),
		stringColumn("Resource", "GroupResource to migrate"),
		stringColumn("Status", "Status of the migration"),
	}
}

// printStorageVersionMigration shows the last true condition among the three
// that describe a migration's progress.
func printStorageVersionMigration(m *storagemigrationv1.StorageVersionMigration, _ options) (metav1.TableRow, error) {
	status := "Unknown"
	for _, c := range m.Status.Conditions {
		if c.Status != metav1.ConditionTrue {
			continue
		}
		switch storagemigrationv1.MigrationConditionType(c.Type) {
		case storagemigrationv1.MigrationRunning, storagemigrationv1.MigrationFailed, storagemigrationv1.MigrationSucceeded:
			status = c.Type
		}
	}
	return cells(m.Name, m.Spec.Resource.String(), status)
}
