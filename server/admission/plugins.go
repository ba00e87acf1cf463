// Package admission holds the admission plugins kube-apiserver enables by
// default beyond the ones k8s.io/apiserver ships, written against the v1
// types skiff stores.
package admission

import (
	"slices"

	genericoptions "k8s.io/apiserver/pkg/server/options"
)

// Register adds PodSecurity, Priority and ResourceQuota to opts and slots them into the
// plugin order where kube-apiserver runs them: right after
// NamespaceLifecycle, PodSecurity before Priority, both ahead of the
// policy and webhook plugins; and ResourceQuota, last after the webhooks.
// ResourceQuota needs Initializers passed to ApplyTo.
func Register(opts *genericoptions.AdmissionOptions) {
	registerPodSecurity(opts.Plugins)
	registerPriority(opts.Plugins)
	registerResourceQuota(opts.Plugins)
	order := opts.RecommendedPluginOrder
	at := slices.Index(order, "NamespaceLifecycle") + 1
	order = slices.Insert(slices.Clone(order), at, PodSecurityPluginName, PriorityPluginName)
	// ResourceQuota runs after the webhooks, which may still change or
	// reject the object it charges.
	at = slices.Index(order, "ValidatingAdmissionWebhook") + 1
	opts.RecommendedPluginOrder = slices.Insert(order, at, ResourceQuotaPluginName)
}
