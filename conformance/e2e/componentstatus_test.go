package e2e

import (
	"strings"
	"testing"
)

func TestComponentStatuses(t *testing.T) {
	out := kubectl(t, "get", "componentstatuses")
	if got, want := tableHeader(out), []string{"NAME", "STATUS", "MESSAGE", "ERROR"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("kubectl get cs columns = %v, want %v", got, want)
	}
	row, err := tableRow(out, "etcd-0")
	if err != nil {
		t.Fatal(err)
	}
	if row[1] != "Healthy" || row[2] != "ok" {
		t.Errorf("etcd-0 row = %v, want Healthy ok", row)
	}
	mustContain(t, "kubectl get cs etcd-0 -o yaml", kubectl(t, "get", "cs", "etcd-0", "-o", "yaml"), "type: Healthy", `status: "True"`)
}
