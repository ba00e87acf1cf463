package server

import (
	"strings"
	"testing"
)

func TestEnabledControllers(t *testing.T) {
	tests := []struct {
		list    []string
		on, off []string
		err     string
	}{
		{list: nil, on: []string{"kube-scheduler", "namespace-controller"}},
		{list: []string{"*"}, on: []string{"kube-scheduler", "job-controller"}},
		{list: []string{"*", "-kube-scheduler"}, on: []string{"job-controller"}, off: []string{"kube-scheduler"}},
		{list: []string{"job-controller"}, on: []string{"job-controller", "clusterrole-aggregation-controller"}, off: []string{"kube-scheduler"}},
		{list: []string{"*", "-clusterrole-aggregation-controller"}, on: []string{"clusterrole-aggregation-controller"}},
		{list: []string{"*", "-no-such"}, err: `unknown controller "no-such"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.list, ","), func(t *testing.T) {
			enabled, err := enabledControllers(tt.list)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defs := map[string]controllerDef{}
			for _, d := range controllerDefs() {
				defs[d.name] = d
			}
			for _, name := range tt.on {
				if !enabled(defs[name]) {
					t.Errorf("%s disabled", name)
				}
			}
			for _, name := range tt.off {
				if enabled(defs[name]) {
					t.Errorf("%s enabled", name)
				}
			}
		})
	}
}
