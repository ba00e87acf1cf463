package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

const (
	annotationIngressClass       = "kubernetes.io/ingress.class"
	maxLenIngressClassController = 250
)

var (
	supportedPathTypes   = sets.New(string(networkingv1.PathTypeExact), string(networkingv1.PathTypePrefix), string(networkingv1.PathTypeImplementationSpecific))
	invalidPathSequences = []string{"//", "/./", "/../", "%2f", "%2F"}
	invalidPathSuffixes  = []string{"/..", "/."}
	supportedParamScopes = sets.New(networkingv1.IngressClassParametersReferenceScopeNamespace, networkingv1.IngressClassParametersReferenceScopeCluster)
)

// NetworkPolicies.

type networkPolicyOptions struct {
	allowInvalidLabelValueInSelector bool
	allowCIDRsEvenIfInvalid          []string
}

func validateNetworkPolicyPort(port *networkingv1.NetworkPolicyPort, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if port.Protocol != nil && !supportedPortProtocols.Has(*port.Protocol) {
		allErrs = append(allErrs, field.NotSupported(p.Child("protocol"), *port.Protocol, []string{string(corev1.ProtocolTCP), string(corev1.ProtocolUDP), string(corev1.ProtocolSCTP)}))
	}
	switch {
	case port.Port == nil:
		if port.EndPort != nil {
			allErrs = append(allErrs, field.Invalid(p.Child("endPort"), *port.EndPort, "may not be specified when `port` is not specified"))
		}
	case port.Port.Type == intstr.Int:
		for _, msg := range utilvalidation.IsValidPortNum(int(port.Port.IntVal)) {
			allErrs = append(allErrs, field.Invalid(p.Child("port"), port.Port.IntVal, msg))
		}
		if port.EndPort != nil {
			if *port.EndPort < port.Port.IntVal {
				allErrs = append(allErrs, field.Invalid(p.Child("endPort"), *port.EndPort, "must be greater than or equal to `port`"))
			}
			for _, msg := range utilvalidation.IsValidPortNum(int(*port.EndPort)) {
				allErrs = append(allErrs, field.Invalid(p.Child("endPort"), *port.EndPort, msg))
			}
		}
	default:
		if port.EndPort != nil {
			allErrs = append(allErrs, field.Invalid(p.Child("endPort"), *port.EndPort, "may not be specified when `port` is non-numeric"))
		}
		for _, msg := range utilvalidation.IsValidPortName(port.Port.StrVal) {
			allErrs = append(allErrs, field.Invalid(p.Child("port"), port.Port.StrVal, msg))
		}
	}
	return allErrs
}

func validateNetworkPolicyPeer(peer *networkingv1.NetworkPolicyPeer, opts networkPolicyOptions, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	n := 0
	if peer.PodSelector != nil {
		n++
		allErrs = append(allErrs, validateLabelSelector(peer.PodSelector, opts.allowInvalidLabelValueInSelector, p.Child("podSelector"))...)
	}
	if peer.NamespaceSelector != nil {
		n++
		allErrs = append(allErrs, validateLabelSelector(peer.NamespaceSelector, opts.allowInvalidLabelValueInSelector, p.Child("namespaceSelector"))...)
	}
	if peer.IPBlock != nil {
		n++
		allErrs = append(allErrs, validateIPBlock(peer.IPBlock, p.Child("ipBlock"), opts)...)
	}
	if n == 0 {
		allErrs = append(allErrs, field.Required(p, "must specify a peer"))
	} else if n > 1 && peer.IPBlock != nil {
		allErrs = append(allErrs, field.Forbidden(p, "may not specify both ipBlock and another peer"))
	}
	return allErrs
}

// validateIPBlock tolerates any CIDR the old policy already contained.
func validateIPBlock(ipb *networkingv1.IPBlock, p *field.Path, opts networkPolicyOptions) field.ErrorList {
	if ipb.CIDR == "" {
		return field.ErrorList{field.Required(p.Child("cidr"), "").MarkCoveredByDeclarative()}
	}
	allErrs := isValidCIDRForLegacyField(p.Child("cidr"), ipb.CIDR, opts.allowCIDRsEvenIfInvalid)
	_, cidr, err := netutils.ParseCIDRSloppy(ipb.CIDR)
	if err != nil {
		return allErrs
	}
	for i, e := range ipb.Except {
		ep := p.Child("except").Index(i)
		allErrs = append(allErrs, isValidCIDRForLegacyField(ep, e, opts.allowCIDRsEvenIfInvalid)...)
		_, except, err := netutils.ParseCIDRSloppy(e)
		if err != nil {
			continue
		}
		cidrLen, _ := cidr.Mask.Size()
		exceptLen, _ := except.Mask.Size()
		if !cidr.Contains(except.IP) || cidrLen >= exceptLen {
			allErrs = append(allErrs, field.Invalid(ep, e, "must be a strict subset of `cidr`"))
		}
	}
	return allErrs
}

func validateNetworkPolicySpec(spec *networkingv1.NetworkPolicySpec, opts networkPolicyOptions, p *field.Path) field.ErrorList {
	allErrs := validateLabelSelector(&spec.PodSelector, opts.allowInvalidLabelValueInSelector, p.Child("podSelector"))
	for i, rule := range spec.Ingress {
		rp := p.Child("ingress").Index(i)
		for j := range rule.Ports {
			allErrs = append(allErrs, validateNetworkPolicyPort(&rule.Ports[j], rp.Child("ports").Index(j))...)
		}
		for j := range rule.From {
			allErrs = append(allErrs, validateNetworkPolicyPeer(&rule.From[j], opts, rp.Child("from").Index(j))...)
		}
	}
	for i, rule := range spec.Egress {
		rp := p.Child("egress").Index(i)
		for j := range rule.Ports {
			allErrs = append(allErrs, validateNetworkPolicyPort(&rule.Ports[j], rp.Child("ports").Index(j))...)
		}
		for j := range rule.To {
			allErrs = append(allErrs, validateNetworkPolicyPeer(&rule.To[j], opts, rp.Child("to").Index(j))...)
		}
	}
	allowed := []string{string(networkingv1.PolicyTypeIngress), string(networkingv1.PolicyTypeEgress)}
	if len(spec.PolicyTypes) > len(allowed) {
		return append(allErrs, field.Invalid(p.Child("policyTypes"), &spec.PolicyTypes, "may not specify more than two policyTypes"))
	}
	for i, t := range spec.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			allErrs = append(allErrs, field.NotSupported(p.Child("policyTypes").Index(i), t, allowed))
		}
	}
	return allErrs
}

func validateNetworkPolicy(np *networkingv1.NetworkPolicy) field.ErrorList {
	allErrs := validateObjectMeta(&np.ObjectMeta, true, nameIsDNSSubdomain, metadataPath)
	return append(allErrs, validateNetworkPolicySpec(&np.Spec, networkPolicyOptions{}, specPath)...)
}

func validateNetworkPolicyUpdate(np, old *networkingv1.NetworkPolicy) field.ErrorList {
	var opts networkPolicyOptions
	opts.allowInvalidLabelValueInSelector = len(validateLabelSelector(&old.Spec.PodSelector, false, nil)) > 0
	collect := func(peers []networkingv1.NetworkPolicyPeer) {
		for _, peer := range peers {
			if peer.IPBlock != nil {
				opts.allowCIDRsEvenIfInvalid = append(opts.allowCIDRsEvenIfInvalid, peer.IPBlock.CIDR)
				opts.allowCIDRsEvenIfInvalid = append(opts.allowCIDRsEvenIfInvalid, peer.IPBlock.Except...)
			}
		}
	}
	for _, r := range old.Spec.Ingress {
		collect(r.From)
	}
	for _, r := range old.Spec.Egress {
		collect(r.To)
	}
	allErrs := validateObjectMetaUpdate(&np.ObjectMeta, &old.ObjectMeta, metadataPath)
	return append(allErrs, validateNetworkPolicySpec(&np.Spec, opts, specPath)...)
}

// Ingresses.

type ingressOptions struct {
	allowInvalidSecretName       bool
	allowInvalidWildcardHostRule bool
}

func validateIngressCommon(ing *networkingv1.Ingress, opts ingressOptions) field.ErrorList {
	allErrs := validateObjectMeta(&ing.ObjectMeta, true, nameIsDNSSubdomain, metadataPath)
	return append(allErrs, validateIngressSpec(&ing.Spec, specPath, opts)...)
}

func validateIngress(ing *networkingv1.Ingress) field.ErrorList {
	allErrs := validateIngressCommon(ing, ingressOptions{})
	if v, ok := ing.Annotations[annotationIngressClass]; ok && ing.Spec.IngressClassName != nil && v != *ing.Spec.IngressClassName {
		allErrs = append(allErrs, field.Invalid(field.NewPath("annotations").Child(annotationIngressClass), v, "must match `ingressClassName` when both are specified"))
	}
	return allErrs
}

func validateIngressUpdate(ing, old *networkingv1.Ingress) field.ErrorList {
	opts := ingressOptions{}
	for _, tls := range old.Spec.TLS {
		if len(tlsSecretNameErrors(tls.SecretName)) > 0 {
			opts.allowInvalidSecretName = true
		}
	}
	for _, rule := range old.Spec.Rules {
		if strings.Contains(rule.Host, "*") && len(validateIngressRuleValue(&rule.IngressRuleValue, nil)) > 0 {
			opts.allowInvalidWildcardHostRule = true
		}
	}
	allErrs := validateObjectMetaUpdate(&ing.ObjectMeta, &old.ObjectMeta, metadataPath)
	return append(allErrs, validateIngressCommon(ing, opts)...)
}

func validateIngressStatusUpdate(ing, old *networkingv1.Ingress) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&ing.ObjectMeta, &old.ObjectMeta, metadataPath)
	var existing []string
	for _, i := range old.Status.LoadBalancer.Ingress {
		if len(i.IP) > 0 {
			existing = append(existing, i.IP)
		}
	}
	for i, lb := range ing.Status.LoadBalancer.Ingress {
		p := field.NewPath("status", "loadBalancer").Child("ingress").Index(i)
		if len(lb.IP) > 0 {
			allErrs = append(allErrs, isValidIPForLegacyField(p.Child("ip"), lb.IP, existing)...)
		}
		if len(lb.Hostname) > 0 {
			for _, msg := range utilvalidation.IsDNS1123Subdomain(lb.Hostname) {
				allErrs = append(allErrs, field.Invalid(p.Child("hostname"), lb.Hostname, msg))
			}
			if netutils.ParseIPSloppy(lb.Hostname) != nil {
				allErrs = append(allErrs, field.Invalid(p.Child("hostname"), lb.Hostname, "must be a DNS name, not an IP address"))
			}
		}
	}
	return allErrs
}

func tlsSecretNameErrors(name string) []string {
	if len(name) == 0 {
		return nil
	}
	return nameIsDNSSubdomain(name, false)
}

func validateIngressSpec(spec *networkingv1.IngressSpec, p *field.Path, opts ingressOptions) field.ErrorList {
	var allErrs field.ErrorList
	if len(spec.Rules) == 0 && spec.DefaultBackend == nil {
		allErrs = append(allErrs, field.Invalid(p, spec.Rules, fmt.Sprintf("either `%s` or `rules` must be specified", "defaultBackend")))
	}
	if spec.DefaultBackend != nil {
		allErrs = append(allErrs, validateIngressBackend(spec.DefaultBackend, p.Child("defaultBackend"))...)
	}
	for i, rule := range spec.Rules {
		rp := p.Child("rules").Index(i)
		wildcard := false
		if len(rule.Host) > 0 {
			if netutils.ParseIPSloppy(rule.Host) != nil {
				allErrs = append(allErrs, field.Invalid(rp.Child("host"), rule.Host, "must be a DNS name, not an IP address"))
			}
			if strings.Contains(rule.Host, "*") {
				for _, msg := range utilvalidation.IsWildcardDNS1123Subdomain(rule.Host) {
					allErrs = append(allErrs, field.Invalid(rp.Child("host"), rule.Host, msg))
				}
				wildcard = true
			} else {
				for _, msg := range utilvalidation.IsDNS1123Subdomain(rule.Host) {
					allErrs = append(allErrs, field.Invalid(rp.Child("host"), rule.Host, msg))
				}
			}
		}
		if !wildcard || !opts.allowInvalidWildcardHostRule {
			allErrs = append(allErrs, validateIngressRuleValue(&rule.IngressRuleValue, rp)...)
		}
	}
	for ti, tls := range spec.TLS {
		tp := p.Child("tls").Index(ti)
		for i, host := range tls.Hosts {
			msgs := utilvalidation.IsDNS1123Subdomain(host)
			if strings.Contains(host, "*") {
				msgs = utilvalidation.IsWildcardDNS1123Subdomain(host)
			}
			for _, msg := range msgs {
				allErrs = append(allErrs, field.Invalid(tp.Child("hosts").Index(i), host, msg))
			}
		}
		if !opts.allowInvalidSecretName {
			for _, msg := range tlsSecretNameErrors(tls.SecretName) {
				allErrs = append(allErrs, field.Invalid(tp.Child("secretName"), tls.SecretName, msg))
			}
		}
	}
	if spec.IngressClassName != nil {
		allErrs = append(allErrs, validateName(nameIsDNSSubdomain, *spec.IngressClassName, p.Child("ingressClassName"))...)
	}
	return allErrs
}

func validateIngressRuleValue(rule *networkingv1.IngressRuleValue, p *field.Path) field.ErrorList {
	if rule.HTTP == nil {
		return nil
	}
	hp := p.Child("http")
	var allErrs field.ErrorList
	if len(rule.HTTP.Paths) == 0 {
		allErrs = append(allErrs, field.Required(hp.Child("paths"), ""))
	}
	for i := range rule.HTTP.Paths {
		allErrs = append(allErrs, validateHTTPIngressPath(&rule.HTTP.Paths[i], hp.Child("paths").Index(i))...)
	}
	return allErrs
}

func validateHTTPIngressPath(path *networkingv1.HTTPIngressPath, p *field.Path) field.ErrorList {
	if path.PathType == nil {
		return field.ErrorList{field.Required(p.Child("pathType"), "pathType must be specified")}
	}
	var allErrs field.ErrorList
	switch *path.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(path.Path, "/") {
			allErrs = append(allErrs, field.Invalid(p.Child("path"), path.Path, "must be an absolute path"))
		}
		if len(path.Path) > 0 {
			for _, seq := range invalidPathSequences {
				if strings.Contains(path.Path, seq) {
					allErrs = append(allErrs, field.Invalid(p.Child("path"), path.Path, fmt.Sprintf("must not contain '%s'", seq)))
				}
			}
			for _, suffix := range invalidPathSuffixes {
				if strings.HasSuffix(path.Path, suffix) {
					allErrs = append(allErrs, field.Invalid(p.Child("path"), path.Path, fmt.Sprintf("cannot end with '%s'", suffix)))
				}
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if len(path.Path) > 0 && !strings.HasPrefix(path.Path, "/") {
			allErrs = append(allErrs, field.Invalid(p.Child("path"), path.Path, "must be an absolute path"))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(p.Child("pathType"), *path.PathType, sets.List(supportedPathTypes)))
	}
	return append(allErrs, validateIngressBackend(&path.Backend, p.Child("backend"))...)
}

// validateIngressBackend: backend service names are DNS labels in 1.37
// (RelaxedServiceNameValidation is GA).
func validateIngressBackend(b *networkingv1.IngressBackend, p *field.Path) field.ErrorList {
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(p, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		return validateTypedLocalObjectReference(b.Resource.APIGroup, b.Resource.Kind, b.Resource.Name, p.Child("resource"), false)
	case b.Service == nil:
		return field.ErrorList{field.Invalid(p, "", "resource or service backend is required")}
	}
	var allErrs field.ErrorList
	if len(b.Service.Name) == 0 {
		allErrs = append(allErrs, field.Required(p.Child("service", "name"), ""))
	} else {
		allErrs = append(allErrs, validateName(nameIsDNSLabel, b.Service.Name, p.Child("service", "name"))...)
	}
	hasName, hasNumber := len(b.Service.Port.Name) > 0, b.Service.Port.Number != 0
	switch {
	case hasName && hasNumber:
		allErrs = append(allErrs, field.Invalid(p, "", "cannot set both port name & port number"))
	case hasName:
		for _, msg := range utilvalidation.IsValidPortName(b.Service.Port.Name) {
			allErrs = append(allErrs, field.Invalid(p.Child("service", "port", "name"), b.Service.Port.Name, msg))
		}
	case hasNumber:
		for _, msg := range utilvalidation.IsValidPortNum(int(b.Service.Port.Number)) {
			allErrs = append(allErrs, field.Invalid(p.Child("service", "port", "number"), b.Service.Port.Number, msg))
		}
	default:
		allErrs = append(allErrs, field.Required(p, "port name or number is required"))
	}
	return allErrs
}

// validateTypedLocalObjectReference checks a reference by group, kind and
// name; covered marks the required errors declarative validation repeats.
func validateTypedLocalObjectReference(apiGroup *string, kind, name string, p *field.Path, covered bool) field.ErrorList {
	var allErrs field.ErrorList
	if apiGroup != nil {
		for _, msg := range utilvalidation.IsDNS1123Subdomain(*apiGroup) {
			allErrs = append(allErrs, field.Invalid(p.Child("apiGroup"), *apiGroup, msg))
		}
	}
	for _, f := range []struct {
		value, name string
	}{{kind, "kind"}, {name, "name"}} {
		if f.value == "" {
			err := field.Required(p.Child(f.name), "")
			if covered {
				err = err.MarkCoveredByDeclarative()
			}
			allErrs = append(allErrs, err)
			continue
		}
		for _, msg := range content.IsPathSegmentName(f.value) {
			allErrs = append(allErrs, field.Invalid(p.Child(f.name), f.value, msg))
		}
	}
	return allErrs
}

// IngressClasses.

func validateIngressClass(ic *networkingv1.IngressClass) field.ErrorList {
	allErrs := validateObjectMeta(&ic.ObjectMeta, false, nameIsDNSSubdomain, metadataPath)
	p := specPath
	if len(ic.Spec.Controller) > maxLenIngressClassController {
		allErrs = append(allErrs, field.TooLong(p.Child("controller"), "", maxLenIngressClassController))
	}
	allErrs = append(allErrs, utilvalidation.IsDomainPrefixedPath(p.Child("controller"), ic.Spec.Controller)...)
	if params := ic.Spec.Parameters; params != nil {
		pp := p.Child("parameters")
		allErrs = append(allErrs, validateTypedLocalObjectReference(params.APIGroup, params.Kind, params.Name, pp, true)...)
		if params.Scope == nil {
			return append(allErrs, field.Required(pp.Child("scope"), ""))
		}
		scope := *params.Scope
		switch {
		case !supportedParamScopes.Has(scope):
			allErrs = append(allErrs, field.NotSupported(pp.Child("scope"), scope, sets.List(supportedParamScopes)))
		case scope == networkingv1.IngressClassParametersReferenceScopeNamespace:
			if params.Namespace == nil {
				allErrs = append(allErrs, field.Required(pp.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
			} else {
				allErrs = append(allErrs, validateName(namespaceNameFunc, *params.Namespace, pp.Child("namespace"))...)
			}
		case scope == networkingv1.IngressClassParametersReferenceScopeCluster && params.Namespace != nil:
			allErrs = append(allErrs, field.Forbidden(pp.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
		}
	}
	return allErrs
}

func validateIngressClassUpdate(ic, old *networkingv1.IngressClass) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&ic.ObjectMeta, &old.ObjectMeta, metadataPath)
	allErrs = append(allErrs, validateImmutableField(ic.Spec.Controller, old.Spec.Controller, specPath.Child("controller"))...)
	return append(allErrs, validateIngressClass(ic)...)
}

// IPAddresses and ServiceCIDRs.

func ipAddressNameFunc(name string, _ bool) []string {
	var msgs []string
	for _, err := range utilvalidation.IsValidIP(&field.Path{}, name) {
		msgs = append(msgs, err.Detail)
	}
	return msgs
}

func validateIPAddress(ip *networkingv1.IPAddress) field.ErrorList {
	allErrs := validateObjectMeta(&ip.ObjectMeta, false, ipAddressNameFunc, metadataPath)
	ref := ip.Spec.ParentRef
	if ref == nil {
		return append(allErrs, field.Required(specPath.Child("parentRef"), "").MarkCoveredByDeclarative())
	}
	p := specPath.Child("parentRef")
	if ref.Group != "" {
		for _, msg := range utilvalidation.IsDNS1123Subdomain(ref.Group) {
			allErrs = append(allErrs, field.Invalid(p.Child("group"), ref.Group, msg))
		}
	}
	for _, f := range []struct {
		value, name string
	}{{ref.Resource, "resource"}, {ref.Name, "name"}} {
		if f.value == "" {
			allErrs = append(allErrs, field.Required(p.Child(f.name), "").MarkCoveredByDeclarative())
			continue
		}
		for _, msg := range content.IsPathSegmentName(f.value) {
			allErrs = append(allErrs, field.Invalid(p.Child(f.name), f.value, msg))
		}
	}
	if ref.Namespace != "" {
		for _, msg := range content.IsPathSegmentName(ref.Namespace) {
			allErrs = append(allErrs, field.Invalid(p.Child("namespace"), ref.Namespace, msg))
		}
	}
	return allErrs
}

func validateIPAddressUpdate(ip, old *networkingv1.IPAddress) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&ip.ObjectMeta, &old.ObjectMeta, metadataPath)
	return append(allErrs, validateImmutableField(ip.Spec.ParentRef, old.Spec.ParentRef, specPath.Child("parentRef")).MarkCoveredByDeclarative().WithOrigin("immutable")...)
}

func validateServiceCIDRSpec(spec *networkingv1.ServiceCIDRSpec, p *field.Path) field.ErrorList {
	if len(spec.CIDRs) == 0 {
		return field.ErrorList{field.Required(p, "at least one CIDR required")}
	}
	if len(spec.CIDRs) > 2 {
		return field.ErrorList{field.Invalid(p, spec, "may only hold up to 2 values")}
	}
	var allErrs field.ErrorList
	for i, c := range spec.CIDRs {
		allErrs = append(allErrs, utilvalidation.IsValidCIDR(p.Index(i), c)...)
	}
	if len(spec.CIDRs) == 2 {
		f0, f1 := netutils.IPFamilyOfCIDRString(spec.CIDRs[0]), netutils.IPFamilyOfCIDRString(spec.CIDRs[1])
		if f0 == f1 && f0 != netutils.IPFamilyUnknown {
			allErrs = append(allErrs, field.Invalid(p, spec.CIDRs, "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"))
		}
	}
	return allErrs
}

func validateServiceCIDR(sc *networkingv1.ServiceCIDR) field.ErrorList {
	allErrs := validateObjectMeta(&sc.ObjectMeta, false, nameIsDNSSubdomain, metadataPath)
	return append(allErrs, validateServiceCIDRSpec(&sc.Spec, specPath.Child("cidrs"))...)
}

// validateServiceCIDRUpdate keeps CIDRs fixed, except that a single-stack
// range may gain a second family.
func validateServiceCIDRUpdate(sc, old *networkingv1.ServiceCIDR) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&sc.ObjectMeta, &old.ObjectMeta, metadataPath)
	p := specPath.Child("cidrs")
	switch {
	case len(old.Spec.CIDRs) == len(sc.Spec.CIDRs):
		for i, c := range old.Spec.CIDRs {
			if c != sc.Spec.CIDRs[i] {
				allErrs = append(allErrs, field.Invalid(p.Index(i), sc.Spec.CIDRs[i], fieldImmutableErrorMsg))
			}
		}
	case len(old.Spec.CIDRs) == 1 && len(sc.Spec.CIDRs) == 2:
		if sc.Spec.CIDRs[0] != old.Spec.CIDRs[0] {
			allErrs = append(allErrs, field.Invalid(p.Index(0), sc.Spec.CIDRs[0], fieldImmutableErrorMsg))
		}
		allErrs = append(allErrs, validateServiceCIDRSpec(&sc.Spec, p)...)
	default:
		allErrs = append(allErrs, field.Invalid(p, sc.Spec.CIDRs, fieldImmutableErrorMsg))
	}
	return allErrs
}

func validateServiceCIDRStatusUpdate(sc, old *networkingv1.ServiceCIDR) field.ErrorList {
	return validateObjectMetaUpdate(&sc.ObjectMeta, &old.ObjectMeta, metadataPath)
}
