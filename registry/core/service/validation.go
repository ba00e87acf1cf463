package service

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/validate"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"

	networkingdeclarative "github.com/skiff-dev/skiff/apis/validation/declarative/networkingv1"
)

// validateClusterIPsRelatedFields is upstream's check of clusterIP,
// clusterIPs, ipFamilies and ipFamilyPolicy that the registry runs before it
// allocates, so allocation never sees malformed input.
func validateClusterIPsRelatedFields(svc, old *corev1.Service) field.ErrorList {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var errs field.ErrorList
	spec := field.NewPath("spec")
	clusterIPsPath := spec.Child("clusterIPs")
	familiesPath := spec.Child("ipFamilies")

	if svc.Spec.ClusterIP != "" {
		if len(svc.Spec.ClusterIPs) == 0 {
			errs = append(errs, field.Required(clusterIPsPath, ""))
		} else if svc.Spec.ClusterIPs[0] != svc.Spec.ClusterIP {
			errs = append(errs, field.Invalid(clusterIPsPath, svc.Spec.ClusterIPs, "first value must match `clusterIP`"))
		}
	} else if len(svc.Spec.ClusterIPs) != 0 {
		errs = append(errs, field.Invalid(clusterIPsPath, svc.Spec.ClusterIPs, "must be empty when `clusterIP` is not specified"))
	}

	supportedFamilies := sets.New(corev1.IPv4Protocol, corev1.IPv6Protocol)
	seen := sets.New[corev1.IPFamily]()
	for i, fam := range svc.Spec.IPFamilies {
		if !supportedFamilies.Has(fam) {
			errs = append(errs, field.NotSupported(familiesPath.Index(i), fam, sets.List(supportedFamilies)))
		}
		if seen.Has(fam) {
			errs = append(errs, field.Duplicate(familiesPath.Index(i), fam))
		}
		seen.Insert(fam)
	}
	if p := svc.Spec.IPFamilyPolicy; p != nil {
		supported := sets.New(corev1.IPFamilyPolicySingleStack, corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack)
		if !supported.Has(*p) {
			errs = append(errs, field.NotSupported(spec.Child("ipFamilyPolicy"), p, sets.List(supported)))
		}
	}

	var oldIPs []string
	if old != nil {
		oldIPs = old.Spec.ClusterIPs
	}
	badIPs := false
	for i, ip := range svc.Spec.ClusterIPs {
		if i == 0 && ip == corev1.ClusterIPNone {
			if len(svc.Spec.ClusterIPs) > 1 {
				badIPs = true
				errs = append(errs, field.Invalid(clusterIPsPath, svc.Spec.ClusterIPs, "'None' must be the first and only value"))
			}
			continue
		}
		ipErrs := utilvalidation.IsValidIPForLegacyField(clusterIPsPath.Index(i), ip, true, oldIPs)
		badIPs = badIPs || len(ipErrs) != 0
		errs = append(errs, ipErrs...)
	}
	if len(svc.Spec.ClusterIPs) > 2 {
		errs = append(errs, field.Invalid(clusterIPsPath, svc.Spec.ClusterIPs, "may only hold up to 2 values"))
	}
	if badIPs {
		return errs
	}
	if len(svc.Spec.ClusterIPs) > 1 {
		dual, err := netutils.IsDualStackIPStrings(svc.Spec.ClusterIPs)
		if err != nil {
			errs = append(errs, field.InternalError(clusterIPsPath, fmt.Errorf("failed to check for dual stack with error:%v", err)))
		}
		if !dual {
			errs = append(errs, field.Invalid(clusterIPsPath, svc.Spec.ClusterIPs, "may specify no more than one IP for each IP family"))
		}
	}
	headless := len(svc.Spec.ClusterIPs) == 1 && svc.Spec.ClusterIPs[0] == corev1.ClusterIPNone
	if !headless {
		for i, ip := range svc.Spec.ClusterIPs {
			if i >= len(svc.Spec.IPFamilies) {
				break
			}
			if svc.Spec.IPFamilies[i] == corev1.IPv4Protocol && netutils.IsIPv6String(ip) {
				errs = append(errs, field.Invalid(clusterIPsPath.Index(i), ip, fmt.Sprintf("expected an IPv4 value as indicated by `ipFamilies[%v]`", i)))
			}
			if svc.Spec.IPFamilies[i] == corev1.IPv6Protocol && !netutils.IsIPv6String(ip) {
				errs = append(errs, field.Invalid(clusterIPsPath.Index(i), ip, fmt.Sprintf("expected an IPv6 value as indicated by `ipFamilies[%v]`", i)))
			}
		}
	}
	return errs
}

var metadataPath = field.NewPath("metadata")

// validateObjectMeta is core's ObjectMeta check: apimachinery's rules plus
// the rule on unqualified finalizer names.
func validateObjectMeta(m *metav1.ObjectMeta, nameFn apimachineryvalidation.ValidateNameFunc) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMeta(m, false, nameFn, metadataPath)
	return append(errs, validateFinalizers(m.Finalizers)...)
}

func validateObjectMetaUpdate(m, old *metav1.ObjectMeta) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMetaUpdate(m, old, metadataPath)
	return append(errs, validateFinalizers(m.Finalizers)...)
}

func validateFinalizers(finalizers []string) field.ErrorList {
	var errs field.ErrorList
	for i, f := range finalizers {
		if strings.Contains(f, "/") {
			continue
		}
		switch f {
		case string(corev1.FinalizerKubernetes), metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents:
			continue
		}
		errs = append(errs, field.Invalid(metadataPath.Child("finalizers").Index(i), f, "name is neither a standard finalizer name nor is it fully qualified"))
	}
	return errs
}

// ipAddressName accepts only an IP in canonical form: the name is the key
// that makes an address unique.
func ipAddressName(name string, _ bool) []string {
	var out []string
	for _, err := range utilvalidation.IsValidIP(&field.Path{}, name) {
		out = append(out, err.Detail)
	}
	return out
}

func validateIPAddress(ip *networkingv1.IPAddress) field.ErrorList {
	errs := validateObjectMeta(&ip.ObjectMeta, ipAddressName)
	return append(errs, validateParentRef(ip.Spec.ParentRef, field.NewPath("spec"))...)
}

func validateParentRef(ref *networkingv1.ParentReference, spec *field.Path) field.ErrorList {
	path := spec.Child("parentRef")
	if ref == nil {
		return field.ErrorList{field.Required(path, "").MarkCoveredByDeclarative()}
	}
	var errs field.ErrorList
	// The core group of Services is "", so group cannot be required.
	if ref.Group != "" {
		for _, msg := range utilvalidation.IsDNS1123Subdomain(ref.Group) {
			errs = append(errs, field.Invalid(path.Child("group"), ref.Group, msg))
		}
	}
	if ref.Resource == "" {
		errs = append(errs, field.Required(path.Child("resource"), "").MarkCoveredByDeclarative())
	} else {
		for _, msg := range content.IsPathSegmentName(ref.Resource) {
			errs = append(errs, field.Invalid(path.Child("resource"), ref.Resource, msg))
		}
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), "").MarkCoveredByDeclarative())
	} else {
		for _, msg := range content.IsPathSegmentName(ref.Name) {
			errs = append(errs, field.Invalid(path.Child("name"), ref.Name, msg))
		}
	}
	if ref.Namespace != "" {
		for _, msg := range content.IsPathSegmentName(ref.Namespace) {
			errs = append(errs, field.Invalid(path.Child("namespace"), ref.Namespace, msg))
		}
	}
	return errs
}

func validateIPAddressUpdate(ip, old *networkingv1.IPAddress) field.ErrorList {
	errs := validateIPAddress(ip)
	errs = append(errs, validateObjectMetaUpdate(&ip.ObjectMeta, &old.ObjectMeta)...)
	return append(errs, apimachineryvalidation.ValidateImmutableField(ip.Spec.ParentRef, old.Spec.ParentRef, field.NewPath("spec", "parentRef")).MarkCoveredByDeclarative().WithOrigin("immutable")...)
}

func validateServiceCIDR(sc *networkingv1.ServiceCIDR) field.ErrorList {
	errs := validateObjectMeta(&sc.ObjectMeta, apimachineryvalidation.NameIsDNSSubdomain)
	return append(errs, validateServiceCIDRSpec(&sc.Spec, field.NewPath("spec", "cidrs"))...)
}

func validateServiceCIDRSpec(spec *networkingv1.ServiceCIDRSpec, path *field.Path) field.ErrorList {
	if len(spec.CIDRs) == 0 {
		return field.ErrorList{field.Required(path, "at least one CIDR required")}
	}
	if len(spec.CIDRs) > 2 {
		return field.ErrorList{field.Invalid(path, spec, "may only hold up to 2 values")}
	}
	var errs field.ErrorList
	for i, cidr := range spec.CIDRs {
		errs = append(errs, utilvalidation.IsValidCIDR(path.Index(i), cidr)...)
	}
	if len(spec.CIDRs) == 2 {
		f0, f1 := netutils.IPFamilyOfCIDRString(spec.CIDRs[0]), netutils.IPFamilyOfCIDRString(spec.CIDRs[1])
		if f0 == f1 && f0 != netutils.IPFamilyUnknown {
			errs = append(errs, field.Invalid(path, spec.CIDRs, "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"))
		}
	}
	return errs
}

// validateServiceCIDRUpdate keeps the CIDRs immutable, except that a
// single-stack ServiceCIDR may gain a second family.
func validateServiceCIDRUpdate(sc, old *networkingv1.ServiceCIDR) field.ErrorList {
	errs := validateObjectMetaUpdate(&sc.ObjectMeta, &old.ObjectMeta)
	cidrs := field.NewPath("spec", "cidrs")
	switch {
	case len(old.Spec.CIDRs) == len(sc.Spec.CIDRs):
		for i, c := range old.Spec.CIDRs {
			if c != sc.Spec.CIDRs[i] {
				errs = append(errs, field.Invalid(cidrs.Index(i), sc.Spec.CIDRs[i], apimachineryvalidation.FieldImmutableErrorMsg))
			}
		}
	case len(old.Spec.CIDRs) == 1 && len(sc.Spec.CIDRs) == 2:
		if sc.Spec.CIDRs[0] != old.Spec.CIDRs[0] {
			errs = append(errs, field.Invalid(cidrs.Index(0), sc.Spec.CIDRs[0], apimachineryvalidation.FieldImmutableErrorMsg))
		}
		errs = append(errs, validateServiceCIDRSpec(&sc.Spec, cidrs)...)
	default:
		errs = append(errs, field.Invalid(cidrs, sc.Spec.CIDRs, apimachineryvalidation.FieldImmutableErrorMsg))
	}
	return errs
}

// declarative holds the generated declarative rules of networking.k8s.io/v1,
// which upstream runs next to the hand-written ones.
var declarative = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := networkingdeclarative.AddToScheme(s); err != nil {
		panic(fmt.Sprintf("skiff: networking declarative validation: %v", err))
	}
	return s
}()

// withDeclarative merges declarative errors the way the API server does:
// enforced declarative errors are added, hand-written errors they cover dropped.
func withDeclarative(errs field.ErrorList, obj, old runtime.Object, subresources ...string) field.ErrorList {
	ctx := context.Background()
	if !declarative.HasValidationFunc(obj) {
		return errs
	}
	var dv field.ErrorList
	if old == nil {
		dv = declarative.Validate(ctx, nil, obj, subresources...)
	} else {
		dv = declarative.ValidateUpdate(ctx, nil, obj, old, subresources...)
	}
	if len(subresources) > 0 && len(dv) == 1 && dv[0].Type == field.ErrorTypeInternal && strings.Contains(dv[0].Detail, "no validation found") {
		dv = nil
	}
	enforced := validate.FilterEnforcedDeclarativeErrors(ctx, dv, true)
	errs = validate.FilterCoveredHandwrittenErrors(ctx, errs.MarkFromImperative(), enforced, true)
	return append(errs, enforced...)
}
