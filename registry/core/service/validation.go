package service

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
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
