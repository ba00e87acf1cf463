package admission_test

import (
	"slices"
	"testing"

	genericoptions "k8s.io/apiserver/pkg/server/options"

	skiffadmission "github.com/skiff-dev/skiff/server/admission"
)

// TestResourceQuotaOrder: ResourceQuota runs where kube-apiserver runs it,
// after the webhooks and policies, and is registered (on by default).
func TestResourceQuotaOrder(t *testing.T) {
	opts := genericoptions.NewAdmissionOptions()
	skiffadmission.Register(opts)
	// After the webhooks, which may still change or reject what it charges
	// (the whole order is TestPluginOrder's).
	if got := opts.RecommendedPluginOrder[len(opts.RecommendedPluginOrder)-1]; got != skiffadmission.ResourceQuotaPluginName {
		t.Errorf("last plugin %s, want ResourceQuota", got)
	}
	if !slices.Contains(opts.Plugins.Registered(), skiffadmission.ResourceQuotaPluginName) {
		t.Errorf("ResourceQuota is not registered: %v", opts.Plugins.Registered())
	}
	if errs := opts.Validate(); len(errs) != 0 {
		t.Errorf("admission options: %v", errs)
	}
}
