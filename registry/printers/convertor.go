// Package printers turns built-in API objects into the metav1.Table that
// `kubectl get` prints, with the same columns, cells and descriptions as
// Kubernetes 1.37's server-side printers.
//
// Upstream prints internal API types; skiff has none, so every printer here
// works on the k8s.io/api types that skiff stores (see apis/scheme.go). Where
// an internal type differs from its v1 type (a pointer that conversion turns
// into a zero value, a group that shares storage with another), the printer
// reproduces what upstream would have seen after conversion.
package printers

import (
	"context"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
)

// NewTableConvertor returns the TableConvertor for the storage of gr. Resources
// that upstream serves with its printers get them; the rest (roles,
// clusterroles, limitranges, csistoragecapacities, review and virtual
// resources) get the generic NAME / CREATED AT table, as upstream does.
func NewTableConvertor(gr schema.GroupResource) rest.TableConvertor {
	if !printedResources()[gr] {
		return rest.NewDefaultTableConvertor(gr)
	}
	return &tableConvertor{handlers: newHandlers()}
}

// printedResources are the resources whose upstream storage uses the
// printers rather than rest.NewDefaultTableConvertor.
func printedResources() map[schema.GroupResource]bool {
	byGroup := map[string][]string{
		"": {"pods", "podtemplates", "replicationcontrollers", "services", "endpoints",
			"nodes", "events", "namespaces", "secrets", "serviceaccounts", "configmaps",
			"persistentvolumes", "persistentvolumeclaims", "resourcequotas", "componentstatuses"},
		"apps":                         {"deployments", "replicasets", "statefulsets", "daemonsets", "controllerrevisions"},
		"batch":                        {"jobs", "cronjobs"},
		"autoscaling":                  {"horizontalpodautoscalers"},
		"networking.k8s.io":            {"ingresses", "ingressclasses", "networkpolicies", "servicecidrs", "ipaddresses"},
		"discovery.k8s.io":             {"endpointslices"},
		"coordination.k8s.io":          {"leases"},
		"events.k8s.io":                {"events"},
		"policy":                       {"poddisruptionbudgets"},
		"rbac.authorization.k8s.io":    {"rolebindings", "clusterrolebindings"},
		"storage.k8s.io":               {"storageclasses", "csidrivers", "csinodes", "volumeattachments", "volumeattributesclasses"},
		"scheduling.k8s.io":            {"priorityclasses"},
		"node.k8s.io":                  {"runtimeclasses"},
		"certificates.k8s.io":          {"certificatesigningrequests", "clustertrustbundles", "podcertificaterequests"},
		"flowcontrol.apiserver.k8s.io": {"flowschemas", "prioritylevelconfigurations"},
		"resource.k8s.io": {"deviceclasses", "devicetaintrules", "resourceclaims",
			"resourceclaimtemplates", "resourceslices"},
		"storagemigration.k8s.io": {"storageversionmigrations"},
		"admissionregistration.k8s.io": {"validatingwebhookconfigurations", "mutatingwebhookconfigurations",
			"validatingadmissionpolicies", "validatingadmissionpolicybindings",
			"mutatingadmissionpolicies", "mutatingadmissionpolicybindings"},
	}
	set := map[schema.GroupResource]bool{}
	for group, resources := range byGroup {
		for _, resource := range resources {
			set[schema.GroupResource{Group: group, Resource: resource}] = true
		}
	}
	return set
}

// options says what a printer must produce. The server always prints the
// wide columns and lets the client drop those with priority > 0, but the
// printers keep the switch so that what they print for narrow output (a
// clipped load-balancer address) stays what upstream prints.
type options struct {
	wide bool
}

// handler prints one Go type: the columns of its table and its rows.
type handler struct {
	columns []metav1.TableColumnDefinition
	rows    func(obj runtime.Object, opts options) ([]metav1.TableRow, error)
}

type handlers map[reflect.Type]handler

// tableConvertor dispatches on the Go type of the object, like upstream's
// table generator: every printed resource's storage can print any printed
// type, so a Status or a Scale handed to it still gets its own table.
type tableConvertor struct {
	handlers handlers
}

func (c *tableConvertor) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	noHeaders := false
	if tableOptions != nil {
		opts, ok := tableOptions.(*metav1.TableOptions)
		if !ok {
			return nil, fmt.Errorf("unrecognized type %T for table options, can't display tabular output", tableOptions)
		}
		if opts != nil {
			noHeaders = opts.NoHeaders
		}
	}
	return c.generate(obj, options{wide: true}, noHeaders)
}

func (c *tableConvertor) generate(obj runtime.Object, opts options, noHeaders bool) (*metav1.Table, error) {
	t := reflect.TypeOf(obj)
	h, ok := c.handlers[t]
	if !ok {
		return nil, fmt.Errorf("no table handler registered for this type %v", t)
	}
	rows, err := h.rows(obj, opts)
	if err != nil {
		return nil, err
	}
	table := &metav1.Table{Rows: rows}
	if !noHeaders {
		for _, column := range h.columns {
			if column.Priority != 0 && !opts.wide {
				continue
			}
			table.ColumnDefinitions = append(table.ColumnDefinitions, column)
		}
	}
	if list, err := meta.ListAccessor(obj); err == nil {
		table.ResourceVersion = list.GetResourceVersion()
		table.Continue = list.GetContinue()
		table.RemainingItemCount = list.GetRemainingItemCount()
	} else if object, err := meta.CommonAccessor(obj); err == nil {
		table.ResourceVersion = object.GetResourceVersion()
	}
	return table, nil
}

// printFunc prints the cells (and, for pods, the conditions) of one object's
// row; the caller attaches the object itself.
type printFunc[P runtime.Object] func(obj P, opts options) (metav1.TableRow, error)

// register adds the printer of a kind for the object type P and its list
// type L, whose items are returned by items.
func register[T any, P interface {
	*T
	runtime.Object
}, L runtime.Object](h handlers, columns []metav1.TableColumnDefinition, items func(L) []T, print printFunc[P]) {
	h[reflect.TypeFor[P]()] = handler{
		columns: columns,
		rows: func(obj runtime.Object, opts options) ([]metav1.TableRow, error) {
			row, err := printRow(obj.(P), opts, print)
			if err != nil {
				return nil, err
			}
			return []metav1.TableRow{row}, nil
		},
	}
	registerList(h, columns, func(list L, opts options) ([]metav1.TableRow, error) {
		objs := items(list)
		rows := make([]metav1.TableRow, 0, len(objs))
		for i := range objs {
			row, err := printRow(P(&objs[i]), opts, print)
			if err != nil {
				return nil, err
			}
			rows = append(rows, row)
		}
		return rows, nil
	})
}

// registerList adds (or replaces) the printer of a list type, for the kinds
// whose list prints more than its items one by one.
func registerList[L runtime.Object](h handlers, columns []metav1.TableColumnDefinition, rows func(L, options) ([]metav1.TableRow, error)) {
	h[reflect.TypeFor[L]()] = handler{
		columns: columns,
		rows: func(obj runtime.Object, opts options) ([]metav1.TableRow, error) {
			return rows(obj.(L), opts)
		},
	}
}

// registerOne adds the printer of a type that has no list, such as Scale or
// Status.
func registerOne[P runtime.Object](h handlers, columns []metav1.TableColumnDefinition, print printFunc[P]) {
	h[reflect.TypeFor[P]()] = handler{
		columns: columns,
		rows: func(obj runtime.Object, opts options) ([]metav1.TableRow, error) {
			row, err := printRow(obj.(P), opts, print)
			if err != nil {
				return nil, err
			}
			return []metav1.TableRow{row}, nil
		},
	}
}

func printRow[P runtime.Object](obj P, opts options, print printFunc[P]) (metav1.TableRow, error) {
	row, err := print(obj, opts)
	if err != nil {
		return metav1.TableRow{}, err
	}
	row.Object = runtime.RawExtension{Object: obj}
	return row, nil
}

// cells is the row of an object whose printer only fills cells.
func cells(values ...any) (metav1.TableRow, error) {
	return metav1.TableRow{Cells: values}, nil
}

func newHandlers() handlers {
	h := handlers{}
	addCoreHandlers(h)
	addAppsHandlers(h)
	addBatchHandlers(h)
	addNetworkingHandlers(h)
	addStorageHandlers(h)
	addPolicyAndAccessHandlers(h)
	addClusterHandlers(h)
	addResourceHandlers(h)
	return h
}
