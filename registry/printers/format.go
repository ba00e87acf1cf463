package printers

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Column helpers. Descriptions come from the swagger docs of the fields a
// column shows, exactly as upstream picks them (including the few keys that do
// not exist and so describe nothing).

func column(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description}
}

func stringColumn(name, description string) metav1.TableColumnDefinition {
	return column(name, "string", description)
}

func integerColumn(name, description string) metav1.TableColumnDefinition {
	return column(name, "integer", description)
}

func booleanColumn(name, description string) metav1.TableColumnDefinition {
	return column(name, "boolean", description)
}

// wide marks a column that kubectl shows only with -o wide.
func wide(c metav1.TableColumnDefinition) metav1.TableColumnDefinition {
	c.Priority = 1
	return c
}

func nameColumn() metav1.TableColumnDefinition {
	c := stringColumn("Name", metav1.ObjectMeta{}.SwaggerDoc()["name"])
	c.Format = "name"
	return c
}

func ageColumn() metav1.TableColumnDefinition {
	return stringColumn("Age", metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"])
}

func containersColumn() metav1.TableColumnDefinition {
	return stringColumn("Containers", "Names of each container in the template.")
}

func imagesColumn() metav1.TableColumnDefinition {
	return stringColumn("Images", "Images referenced by each container in the template.")
}

// Cell helpers.

// age is the time since t, the way every AGE column shows it.
func age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}

func microAge(t metav1.MicroTime) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}

func until(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Until(t.Time))
}

// containerCells lays the names and the images of containers out on one line
// each.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	i := make([]string, len(containers))
	for k, c := range containers {
		n[k], i[k] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(i, ",")
}

// firstOf joins at most limit entries of list and says how many of total were
// left out; an empty list is "<unset>".
func firstOf(list []string, total, limit int) string {
	if len(list) > limit {
		list = list[:limit]
	}
	s := strings.Join(list, ",")
	if total > limit {
		return fmt.Sprintf("%s + %d more...", s, total-limit)
	}
	if s == "" {
		return "<unset>"
	}
	return s
}

func boolPtrString(b *bool) string {
	if b == nil {
		return "<unset>"
	}
	if *b {
		return "True"
	}
	return "False"
}

// sortedUniqueAddresses lists the IP, or else the hostname, of each
// load-balancer ingress point once, sorted.
func sortedUniqueAddresses(ipOrHost func(i int) string, n int) []string {
	seen := map[string]bool{}
	var out []string
	for i := 0; i < n; i++ {
		a := ipOrHost(i)
		if a == "" || seen[a] {
			continue
		}
		seen[a] = true
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// loadBalancerWidth is where narrow output clips a load-balancer address list.
const loadBalancerWidth = 16

func clipLoadBalancer(s string, wide bool) string {
	if !wide && len(s) > loadBalancerWidth {
		return s[:loadBalancerWidth-3] + "..."
	}
	return s
}

func derefInt32(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
