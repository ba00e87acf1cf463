package admission

import (
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/apiserver/pkg/admission/plugin/resourcequota"
	quota "k8s.io/apiserver/pkg/quota/v1"

	skiffquota "github.com/skiff-dev/skiff/registry/quota"
)

// ResourceQuotaPluginName is the name kube-apiserver registers the
// ResourceQuota admission plugin under.
const ResourceQuotaPluginName = resourcequota.PluginName

// registerResourceQuota adds k8s.io/apiserver's ResourceQuota plugin. With
// no admission configuration for it, it limits no resource beyond what
// quotas say.
func registerResourceQuota(plugins *admission.Plugins) {
	resourcequota.Register(plugins)
}

// Initializers are the plugin initializers skiff's plugins need beyond the
// generic ones: the ResourceQuota plugin gets its evaluators from one.
func Initializers() []admission.PluginInitializer {
	return []admission.PluginInitializer{quotaInitializer{skiffquota.NewConfiguration(nil)}}
}

// quotaInitializer hands the quota configuration to the plugins that want
// it. It must run after the generic initializer: the ResourceQuota plugin
// builds its evaluator when it gets the configuration and needs the drained
// notification by then.
type quotaInitializer struct {
	configuration quota.Configuration
}

func (i quotaInitializer) Initialize(p admission.Interface) {
	if wants, ok := p.(initializer.WantsQuotaConfiguration); ok {
		wants.SetQuotaConfiguration(i.configuration)
	}
}
