// Package admission holds the admission plugins kube-apiserver enables by
// default beyond the ones k8s.io/apiserver ships, written against the v1
// types skiff stores.
package admission

import (
	"slices"

	genericoptions "k8s.io/apiserver/pkg/server/options"
)

// Register adds PodSecurity, Priority and NodeRestriction to opts and slots
// them into the plugin order where kube-apiserver runs them: right after
// NamespaceLifecycle, NodeRestriction before PodSecurity before Priority,
// all ahead of the policy and webhook plugins.
func Register(opts *genericoptions.AdmissionOptions) {
	registerPodSecurity(opts.Plugins)
	registerPriority(opts.Plugins)
	registerNodeRestriction(opts.Plugins)
	order := opts.RecommendedPluginOrder
	at := slices.Index(order, "NamespaceLifecycle") + 1
	opts.RecommendedPluginOrder = slices.Insert(slices.Clone(order), at, PodSecurityPluginName, PriorityPluginName)
	// NodeRestriction runs just before PodSecurity, as in kube-apiserver.
	at = slices.Index(opts.RecommendedPluginOrder, PodSecurityPluginName)
	opts.RecommendedPluginOrder = slices.Insert(opts.RecommendedPluginOrder, at, NodeRestrictionPluginName)
}
