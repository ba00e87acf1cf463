package printers

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// narrowCells prints obj the way a client-side printer without -o wide would
// (upstream's options.Wide=false), which is what most upstream expectations
// are written against.
func narrowCells(t *testing.T, obj runtime.Object) []metav1.TableRow {
	t.Helper()
	c := &tableConvertor{handlers: newHandlers()}
	table, err := c.generate(obj, options{}, true)
	if err != nil {
		t.Fatalf("generate %T: %v", obj, err)
	}
	for i := range table.Rows {
		table.Rows[i].Object = runtime.RawExtension{}
	}
	return table.Rows
}

// serverCells prints obj through the TableConvertor of gr, as the API server
// does for `kubectl get`, and returns the cells of its only row.
func serverCells(t *testing.T, gr schema.GroupResource, obj runtime.Object) []any {
	t.Helper()
	table, err := NewTableConvertor(gr).ConvertToTable(context.Background(), obj, nil)
	if err != nil {
		t.Fatalf("ConvertToTable(%v, %T): %v", gr, obj, err)
	}
	if len(table.Rows) != 1 {
		t.Fatalf("got %d rows, want 1", len(table.Rows))
	}
	if table.Rows[0].Object.Object != obj {
		t.Errorf("row object is %p, want the printed object %p", table.Rows[0].Object.Object, obj)
	}
	return table.Rows[0].Cells
}

func expectCells(t *testing.T, got, want []any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cells:\n got %#v\nwant %#v", got, want)
	}
}

func columnNames(cols []metav1.TableColumnDefinition) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
		if c.Priority != 0 {
			names[i] += "*"
		}
	}
	return names
}

func ago(d time.Duration) metav1.Time { return metav1.NewTime(time.Now().Add(-d)) }

var (
	pods   = schema.GroupResource{Resource: "pods"}
	nodes  = schema.GroupResource{Resource: "nodes"}
	events = schema.GroupResource{Resource: "events"}
)

func TestConvertToTable(t *testing.T) {
	pod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", ResourceVersion: "7"}, Spec: corev1.PodSpec{Containers: make([]corev1.Container, 1)}}
	remaining := int64(7)
	list := &corev1.PodList{
		ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "next", RemainingItemCount: &remaining},
		Items:    []corev1.Pod{pod, pod},
	}
	podColumns := []string{"Name", "Ready", "Status", "Restarts", "Age", "IP*", "Node*", "Nominated Node*", "Readiness Gates*"}

	tests := []struct {
		name         string
		gr           schema.GroupResource
		obj          runtime.Object
		tableOptions runtime.Object
		wantColumns  []string
		wantRows     int
		wantList     metav1.ListMeta
		wantErr      string
	}{
		{name: "single object keeps its resource version", gr: pods, obj: &pod, wantColumns: podColumns, wantRows: 1, wantList: metav1.ListMeta{ResourceVersion: "7"}},
		{name: "list carries list metadata", gr: pods, obj: list, tableOptions: &metav1.TableOptions{}, wantColumns: podColumns, wantRows: 2,
			wantList: metav1.ListMeta{ResourceVersion: "42", Continue: "next", RemainingItemCount: &remaining}},
		{name: "empty list still has columns", gr: pods, obj: &corev1.PodList{}, wantColumns: podColumns, wantRows: 0},
		{name: "no headers drops column definitions", gr: pods, obj: list, tableOptions: &metav1.TableOptions{NoHeaders: true}, wantRows: 2,
			wantList: metav1.ListMeta{ResourceVersion: "42", Continue: "next", RemainingItemCount: &remaining}},
		{name: "typed nil table options", gr: pods, obj: &pod, tableOptions: (*metav1.TableOptions)(nil), wantColumns: podColumns, wantRows: 1,
			wantList: metav1.ListMeta{ResourceVersion: "7"}},
		{name: "other table options are refused", gr: pods, obj: &pod, tableOptions: &metav1.ListOptions{},
			wantErr: "unrecognized type *v1.ListOptions for table options"},
		{name: "a type without printer is refused", gr: pods, obj: &corev1.LimitRange{},
			wantErr: "no table handler registered for this type *v1.LimitRange"},
		{name: "roles use the default table", gr: schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "roles"}, obj: &corev1.Pod{},
			wantColumns: []string{"Name", "Created At"}, wantRows: 1},
		{name: "limitranges use the default table", gr: schema.GroupResource{Resource: "limitranges"}, obj: &corev1.LimitRangeList{Items: make([]corev1.LimitRange, 3)},
			wantColumns: []string{"Name", "Created At"}, wantRows: 3},
		{name: "unknown resources use the default table", gr: schema.GroupResource{Group: "example.com", Resource: "widgets"}, obj: &corev1.Pod{},
			wantColumns: []string{"Name", "Created At"}, wantRows: 1},
		{name: "any printed type prints through any printed resource", gr: nodes, obj: &metav1.Status{Status: "Failure", Reason: "NotFound", Message: "gone"},
			wantColumns: []string{"Status", "Reason", "Message"}, wantRows: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table, err := NewTableConvertor(tt.gr).ConvertToTable(context.Background(), tt.obj, tt.tableOptions)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := columnNames(table.ColumnDefinitions); !reflect.DeepEqual(got, tt.wantColumns) && !(len(got) == 0 && len(tt.wantColumns) == 0) {
				t.Errorf("columns %q, want %q", got, tt.wantColumns)
			}
			if len(table.Rows) != tt.wantRows {
				t.Errorf("%d rows, want %d", len(table.Rows), tt.wantRows)
			}
			if table.Rows == nil {
				t.Errorf("rows are nil; upstream sends an empty list")
			}
			if !reflect.DeepEqual(table.ListMeta, tt.wantList) {
				t.Errorf("list meta %+v, want %+v", table.ListMeta, tt.wantList)
			}
		})
	}
}

func TestColumnDefinitions(t *testing.T) {
	table, err := NewTableConvertor(pods).ConvertToTable(context.Background(), &corev1.Pod{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	meta := metav1.ObjectMeta{}.SwaggerDoc()
	want := []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: meta["name"]},
		{Name: "Ready", Type: "string", Description: "The aggregate readiness state of this pod for accepting traffic."},
		{Name: "Status", Type: "string", Description: "The aggregate status of the containers in this pod."},
		{Name: "Restarts", Type: "string", Description: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."},
		{Name: "Age", Type: "string", Description: meta["creationTimestamp"]},
		{Name: "IP", Type: "string", Priority: 1, Description: corev1.PodStatus{}.SwaggerDoc()["podIP"]},
		{Name: "Node", Type: "string", Priority: 1, Description: corev1.PodSpec{}.SwaggerDoc()["nodeName"]},
		{Name: "Nominated Node", Type: "string", Priority: 1, Description: corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"]},
		{Name: "Readiness Gates", Type: "string", Priority: 1, Description: corev1.PodSpec{}.SwaggerDoc()["readinessGates"]},
	}
	if !reflect.DeepEqual(table.ColumnDefinitions, want) {
		t.Errorf("pod columns:\n got %#v\nwant %#v", table.ColumnDefinitions, want)
	}
	if want[0].Description == "" || want[5].Description == "" {
		t.Errorf("swagger docs came back empty; the comparison above proves nothing")
	}
}

// TestEveryPrintedResource prints a zero object and an empty-item list of
// every resource that has upstream printers, through that resource's own
// convertor: each must have a handler, a cell per column, and a table that
// can be deep-copied (cells must be JSON value types).
func TestEveryPrintedResource(t *testing.T) {
	version := func(group string) string {
		if group == "autoscaling" {
			return "v2"
		}
		return "v1"
	}
	// Upstream prints an age for IP addresses without a column for it.
	extraCells := map[string]int{"ipaddresses": 1}

	for gr := range printedResources() {
		t.Run(gr.String(), func(t *testing.T) {
			gv := schema.GroupVersion{Group: gr.Group, Version: version(gr.Group)}
			var kind string
			for k := range clientgoscheme.Scheme.KnownTypes(gv) {
				plural, _ := meta.UnsafeGuessKindToResource(gv.WithKind(k))
				if plural.Resource == gr.Resource {
					kind = k
				}
			}
			if kind == "" {
				t.Fatalf("no kind in %v for %v", gv, gr)
			}
			obj, err := clientgoscheme.Scheme.New(gv.WithKind(kind))
			if err != nil {
				t.Fatal(err)
			}
			list, err := clientgoscheme.Scheme.New(gv.WithKind(kind + "List"))
			if err != nil {
				t.Fatal(err)
			}
			if err := meta.SetList(list, []runtime.Object{obj.DeepCopyObject(), obj.DeepCopyObject()}); err != nil {
				t.Fatal(err)
			}
			convertor := NewTableConvertor(gr)
			for _, o := range []runtime.Object{obj, list} {
				table, err := convertor.ConvertToTable(context.Background(), o, nil)
				if err != nil {
					t.Fatalf("%T: %v", o, err)
				}
				if table.ColumnDefinitions[len(table.ColumnDefinitions)-1].Name == "Created At" {
					t.Errorf("%T printed with the default table", o)
				}
				for _, row := range table.Rows {
					if got, want := len(row.Cells), len(table.ColumnDefinitions)+extraCells[gr.Resource]; got != want {
						t.Errorf("%T: %d cells for %d columns", o, got, len(table.ColumnDefinitions))
					}
				}
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Errorf("%T: deep copy of the table panicked: %v", o, r)
						}
					}()
					table.DeepCopy()
				}()
			}
		})
	}
}
