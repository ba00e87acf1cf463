package printers

import (
	"context"
	"reflect"
	"testing"
	"time"

	resourcev1 "k8s.io/api/resource/v1"
	storagemigrationv1 "k8s.io/api/storagemigration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

func resourceGR(resource string) schema.GroupResource {
	return schema.GroupResource{Group: "resource.k8s.io", Resource: resource}
}

var storageVersionMigrations = schema.GroupResource{Group: "storagemigration.k8s.io", Resource: "storageversionmigrations"}

func TestResourcePrinters(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "x", CreationTimestamp: ago(time.Hour)}
	deleted := meta
	deleted.DeletionTimestamp = ptr.To(ago(time.Second))
	allocated := resourcev1.ResourceClaimStatus{Allocation: &resourcev1.AllocationResult{}}
	reserved := resourcev1.ResourceClaimStatus{Allocation: &resourcev1.AllocationResult{},
		ReservedFor: []resourcev1.ResourceClaimConsumerReference{{Resource: "pods", Name: "p", UID: "u"}}}
	condition := func(typ string, status metav1.ConditionStatus) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status}
	}
	migration := func(conditions ...metav1.Condition) *storagemigrationv1.StorageVersionMigration {
		return &storagemigrationv1.StorageVersionMigration{ObjectMeta: meta,
			Spec:   storagemigrationv1.StorageVersionMigrationSpec{Resource: metav1.GroupResource{Group: "apps", Resource: "deployments"}},
			Status: storagemigrationv1.StorageVersionMigrationStatus{Conditions: conditions}}
	}

	tests := []struct {
		name string
		gr   schema.GroupResource
		obj  runtime.Object
		want []any
	}{
		{name: "device class", gr: resourceGR("deviceclasses"), obj: &resourcev1.DeviceClass{ObjectMeta: meta}, want: []any{"x", "60m"}},
		{name: "claim template", gr: resourceGR("resourceclaimtemplates"), obj: &resourcev1.ResourceClaimTemplate{ObjectMeta: meta}, want: []any{"x", "60m"}},
		{name: "claim without creation time", gr: resourceGR("resourceclaims"), obj: &resourcev1.ResourceClaim{ObjectMeta: metav1.ObjectMeta{Name: "x"}},
			want: []any{"x", "pending", "<unknown>"}},
		{name: "pending claim", gr: resourceGR("resourceclaims"), obj: &resourcev1.ResourceClaim{ObjectMeta: meta}, want: []any{"x", "pending", "60m"}},
		{name: "allocated claim", gr: resourceGR("resourceclaims"), obj: &resourcev1.ResourceClaim{ObjectMeta: meta, Status: allocated},
			want: []any{"x", "allocated", "60m"}},
		{name: "reserved claim", gr: resourceGR("resourceclaims"), obj: &resourcev1.ResourceClaim{ObjectMeta: meta, Status: reserved},
			want: []any{"x", "allocated,reserved", "60m"}},
		{name: "reservation without allocation is still pending", gr: resourceGR("resourceclaims"),
			obj:  &resourcev1.ResourceClaim{ObjectMeta: meta, Status: resourcev1.ResourceClaimStatus{ReservedFor: reserved.ReservedFor}},
			want: []any{"x", "pending", "60m"}},
		{name: "deleted unallocated claim", gr: resourceGR("resourceclaims"), obj: &resourcev1.ResourceClaim{ObjectMeta: deleted},
			want: []any{"x", "deleted", "60m"}},
		{name: "deleted reserved claim", gr: resourceGR("resourceclaims"), obj: &resourcev1.ResourceClaim{ObjectMeta: deleted, Status: reserved},
			want: []any{"x", "deleted,allocated,reserved", "60m"}},
		{name: "node-local slice", gr: resourceGR("resourceslices"), obj: &resourcev1.ResourceSlice{ObjectMeta: meta, Spec: resourcev1.ResourceSliceSpec{
			Driver: "gpu.example.com", NodeName: ptr.To("node-1"), Pool: resourcev1.ResourcePool{Name: "pool-a"}}},
			want: []any{"x", "node-1", "gpu.example.com", "pool-a", "60m"}},
		{name: "network-attached slice", gr: resourceGR("resourceslices"), obj: &resourcev1.ResourceSlice{ObjectMeta: meta, Spec: resourcev1.ResourceSliceSpec{
			Driver: "nas.example.com", AllNodes: ptr.To(true), Pool: resourcev1.ResourcePool{Name: "shared"}}},
			want: []any{"x", "", "nas.example.com", "shared", "60m"}},
		{name: "taint rule", gr: resourceGR("devicetaintrules"), obj: &resourcev1.DeviceTaintRule{ObjectMeta: meta, Spec: resourcev1.DeviceTaintRuleSpec{
			Taint: resourcev1.DeviceTaint{Key: "example.com/broken", Value: "fan", Effect: resourcev1.DeviceTaintEffectNoExecute, TimeAdded: ptr.To(ago(2 * time.Minute))}}},
			want: []any{"x", "example.com/broken", "fan", "NoExecute", "2m", "60m"}},
		{name: "taint rule not yet stamped", gr: resourceGR("devicetaintrules"), obj: &resourcev1.DeviceTaintRule{ObjectMeta: meta, Spec: resourcev1.DeviceTaintRuleSpec{
			Taint: resourcev1.DeviceTaint{Key: "k", Effect: resourcev1.DeviceTaintEffectNoSchedule}}},
			want: []any{"x", "k", "", "NoSchedule", "", "60m"}},
		{name: "migration without conditions", gr: storageVersionMigrations, obj: migration(), want: []any{"x", "deployments.apps", "Unknown"}},
		{name: "core group migration", gr: storageVersionMigrations, obj: &storagemigrationv1.StorageVersionMigration{ObjectMeta: meta,
			Spec: storagemigrationv1.StorageVersionMigrationSpec{Resource: metav1.GroupResource{Resource: "secrets"}}},
			want: []any{"x", "secrets", "Unknown"}},
		{name: "running migration", gr: storageVersionMigrations, obj: migration(condition("Running", metav1.ConditionTrue)),
			want: []any{"x", "deployments.apps", "Running"}},
		{name: "false and foreign conditions are ignored", gr: storageVersionMigrations,
			obj:  migration(condition("Succeeded", metav1.ConditionFalse), condition("Paused", metav1.ConditionTrue)),
			want: []any{"x", "deployments.apps", "Unknown"}},
		{name: "last true condition wins", gr: storageVersionMigrations,
			obj:  migration(condition("Succeeded", metav1.ConditionTrue), condition("Running", metav1.ConditionTrue), condition("Failed", metav1.ConditionUnknown)),
			want: []any{"x", "deployments.apps", "Running"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectCells(t, serverCells(t, tt.gr, tt.obj), tt.want)
		})
	}
}

func TestResourceColumns(t *testing.T) {
	meta := metav1.ObjectMeta{}.SwaggerDoc()
	name := metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: meta["name"]}
	age := metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: meta["creationTimestamp"]}
	str := func(n, d string) metav1.TableColumnDefinition {
		return metav1.TableColumnDefinition{Name: n, Type: "string", Description: d}
	}
	taint := resourcev1.DeviceTaint{}.SwaggerDoc()

	tests := []struct {
		gr   schema.GroupResource
		obj  runtime.Object
		want []metav1.TableColumnDefinition
	}{
		{resourceGR("deviceclasses"), &resourcev1.DeviceClassList{}, []metav1.TableColumnDefinition{name, age}},
		{resourceGR("resourceclaimtemplates"), &resourcev1.ResourceClaimTemplateList{}, []metav1.TableColumnDefinition{name, age}},
		{resourceGR("resourceclaims"), &resourcev1.ResourceClaimList{}, []metav1.TableColumnDefinition{name,
			str("State", "A summary of the current state (allocated, pending, reserved, etc.)."), age}},
		{resourceGR("resourceslices"), &resourcev1.ResourceSliceList{}, []metav1.TableColumnDefinition{name,
			str("Node", resourcev1.ResourceSliceSpec{}.SwaggerDoc()["nodeName"]),
			str("Driver", resourcev1.ResourceSliceSpec{}.SwaggerDoc()["driver"]),
			str("Pool", resourcev1.ResourcePool{}.SwaggerDoc()["name"]), age}},
		{resourceGR("devicetaintrules"), &resourcev1.DeviceTaintRuleList{}, []metav1.TableColumnDefinition{name,
			str("Key", taint["key"]), str("Value", taint["value"]), str("Effect", taint["effect"]), str("TimeAdded", taint["timeAdded"]), age}},
		{storageVersionMigrations, &storagemigrationv1.StorageVersionMigrationList{}, []metav1.TableColumnDefinition{
			str("Name", meta["name"]), str("Resource", "GroupResource to migrate"), str("Status", "Status of the migration")}},
	}
	for _, tt := range tests {
		t.Run(tt.gr.String(), func(t *testing.T) {
			for _, c := range tt.want {
				if c.Description == "" {
					t.Fatalf("column %q has no description; the comparison would prove little", c.Name)
				}
			}
			table, err := NewTableConvertor(tt.gr).ConvertToTable(context.Background(), tt.obj, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(table.ColumnDefinitions, tt.want) {
				t.Errorf("columns:\n got %#v\nwant %#v", table.ColumnDefinitions, tt.want)
			}
		})
	}
}
