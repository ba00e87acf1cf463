// Package admission holds the admission plugins kube-apiserver enables by
// default beyond the ones k8s.io/apiserver ships, written against the v1
// types skiff stores.
package admission

import (
	"slices"

	"k8s.io/apiserver/pkg/admission"
	genericoptions "k8s.io/apiserver/pkg/server/options"
)

// Register adds skiff's plugins to opts and orders every registered plugin
// as kube-apiserver does. A plugin registered before the ordering at the end
// needs no placing of its own; one that kube-apiserver leaves off by
// default must also go into opts.DefaultOffPlugins. ResourceQuota needs
// Initializers passed to ApplyTo.
func Register(opts *genericoptions.AdmissionOptions) {
	registerLimitRanger(opts.Plugins)
	registerServiceAccount(opts.Plugins)
	registerTaintNodesByCondition(opts.Plugins)
	registerPodSecurity(opts.Plugins)
	registerPriority(opts.Plugins)
	registerNodeRestriction(opts.Plugins)
	registerDefaultTolerationSeconds(opts.Plugins)
	registerDefaultStorageClass(opts.Plugins)
	registerStorageObjectInUseProtection(opts.Plugins)
	registerPersistentVolumeClaimResize(opts.Plugins)
	registerRuntimeClass(opts.Plugins)
	registerCertificateApproval(opts.Plugins)
	registerCertificateSigning(opts.Plugins)
	registerClusterTrustBundleAttest(opts.Plugins)
	registerCertificateSubjectRestriction(opts.Plugins)
	registerDefaultIngressClass(opts.Plugins)
	registerPodTopologyLabels(opts.Plugins)
	registerNodeDeclaredFeatureValidator(opts.Plugins)
	registerPodResizeValidator(opts.Plugins)
	registerResourceQuota(opts.Plugins)
	opts.RecommendedPluginOrder = pluginOrder(opts.RecommendedPluginOrder, opts.Plugins)
}

// allOrderedPlugins is kube-apiserver's AllOrderedPlugins: the order every
// admission plugin runs in, whether or not it is enabled.
func allOrderedPlugins() []string {
	return []string{
		"AlwaysAdmit",
		"NamespaceAutoProvision",
		"NamespaceLifecycle",
		"NamespaceExists",
		"LimitPodHardAntiAffinityTopology",
		"LimitRanger",
		"ServiceAccount",
		"NodeRestriction",
		"TaintNodesByCondition",
		"AlwaysPullImages",
		"ImagePolicyWebhook",
		"PodSecurity",
		"PodNodeSelector",
		"Priority",
		"DefaultTolerationSeconds",
		"PodTolerationRestriction",
		"EventRateLimit",
		"ExtendedResourceToleration",
		"DefaultStorageClass",
		"StorageObjectInUseProtection",
		"PodGroupProtection",
		"OwnerReferencesPermissionEnforcement",
		"PersistentVolumeClaimResize",
		"RuntimeClass",
		"CertificateApproval",
		"CertificateSigning",
		"ClusterTrustBundleAttest",
		"CertificateSubjectRestriction",
		"DefaultIngressClass",
		"DenyServiceExternalIPs",
		"PodTopologyLabels",
		"NodeDeclaredFeatureValidator",
		"PodResizeValidator",
		// New plugins go above; webhooks and policies come last so they
		// see the object as the built-in plugins left it.
		"MutatingAdmissionPolicy",
		"MutatingAdmissionWebhook",
		"ValidatingAdmissionPolicy",
		"ValidatingAdmissionWebhook",
		"ResourceQuota",
		"AlwaysDeny",
	}
}

// pluginOrder lists the plugins in current or registered in kube-apiserver's
// order; any that kube-apiserver does not know keep their place after the
// known one preceding them.
func pluginOrder(current []string, plugins *admission.Plugins) []string {
	registered := plugins.Registered()
	var order []string
	for _, name := range allOrderedPlugins() {
		if slices.Contains(current, name) || slices.Contains(registered, name) {
			order = append(order, name)
		}
	}
	known := allOrderedPlugins()
	for i, name := range current {
		if slices.Contains(known, name) {
			continue
		}
		at := 0
		for j := i - 1; j >= 0; j-- {
			if k := slices.Index(order, current[j]); k >= 0 {
				at = k + 1
				break
			}
		}
		order = slices.Insert(order, at, name)
	}
	return order
}
