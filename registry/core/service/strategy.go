package service

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	netutils "k8s.io/utils/net"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/skiff-dev/skiff/apis"
	"github.com/skiff-dev/skiff/apis/validation"
	"github.com/skiff-dev/skiff/registry"
)

// baseStrategy is what the generic registry strategy provides; the kinds of
// this package change parts of it.
type baseStrategy interface {
	rest.RESTCreateStrategy
	rest.RESTUpdateStrategy
}

// serviceStrategy adds to the generic strategy what upstream's Service
// strategy does beyond it: create-on-update, the dropping of fields a type
// change makes meaningless, and warnings.
type serviceStrategy struct{ baseStrategy }

func (s serviceStrategy) AllowCreateOnUpdate(context.Context) bool { return true }

func (s serviceStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	s.baseStrategy.PrepareForUpdate(ctx, obj, old)
	dropTypeDependentFields(obj.(*corev1.Service), old.(*corev1.Service))
}

func (s serviceStrategy) WarningsOnCreate(ctx context.Context, obj runtime.Object) []string {
	return append(s.baseStrategy.WarningsOnCreate(ctx, obj), serviceWarnings(obj.(*corev1.Service))...)
}

func (s serviceStrategy) WarningsOnUpdate(ctx context.Context, obj, old runtime.Object) []string {
	return append(s.baseStrategy.WarningsOnUpdate(ctx, obj, old), serviceWarnings(obj.(*corev1.Service))...)
}

// serviceStatusStrategy is the /status strategy: only the status changes,
// and odd load-balancer IPs draw warnings.
type serviceStatusStrategy struct{ baseStrategy }

func (serviceStatusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*corev1.Service).Spec = old.(*corev1.Service).Spec
}

func (serviceStatusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateStatusUpdate(obj, old)
}

func (serviceStatusStrategy) WarningsOnUpdate(_ context.Context, obj, _ runtime.Object) []string {
	var warnings []string
	path := field.NewPath("status", "loadBalancer", "ingress")
	for i, ing := range obj.(*corev1.Service).Status.LoadBalancer.Ingress {
		if ing.IP != "" {
			warnings = append(warnings, ipWarnings(path.Index(i), ing.IP)...)
		}
	}
	return warnings
}

// dropTypeDependentFields clears, on a type change, the fields the new type
// does not use, but only those the user left as they were: a changed value
// is the user's and goes to validation.
func dropTypeDependentFields(svc, old *corev1.Service) {
	if needsClusterIP(old) && !needsClusterIP(svc) {
		if old.Spec.ClusterIP == svc.Spec.ClusterIP && sameClusterIPs(old, svc) {
			svc.Spec.ClusterIP = ""
			svc.Spec.ClusterIPs = nil
		}
		if sameIPFamilies(old, svc) {
			svc.Spec.IPFamilies = nil
		}
		if ipFamilyPolicy(old) == ipFamilyPolicy(svc) {
			svc.Spec.IPFamilyPolicy = nil
		}
	}
	hasNodePorts := func(s *corev1.Service) bool {
		return s.Spec.Type == corev1.ServiceTypeNodePort || s.Spec.Type == corev1.ServiceTypeLoadBalancer
	}
	if hasNodePorts(old) && !hasNodePorts(svc) && nodePortSet(old).IsSuperset(nodePortSet(svc)) {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
	}
	if needsHCNodePort(old) && !needsHCNodePort(svc) && old.Spec.HealthCheckNodePort == svc.Spec.HealthCheckNodePort {
		svc.Spec.HealthCheckNodePort = 0
	}
	if old.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		if a, b := old.Spec.AllocateLoadBalancerNodePorts, svc.Spec.AllocateLoadBalancerNodePorts; a != nil && b != nil && *a == *b {
			svc.Spec.AllocateLoadBalancerNodePorts = nil
		}
		if equalPtr(old.Spec.LoadBalancerClass, svc.Spec.LoadBalancerClass) {
			svc.Spec.LoadBalancerClass = nil
		}
	}
	if externallyAccessible(old) && !externallyAccessible(svc) && old.Spec.ExternalTrafficPolicy == svc.Spec.ExternalTrafficPolicy {
		svc.Spec.ExternalTrafficPolicy = ""
	}
	// Load balancers are torn down asynchronously, but users need not see that.
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		svc.Status.LoadBalancer = corev1.LoadBalancerStatus{}
	}
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func externallyAccessible(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer || svc.Spec.Type == corev1.ServiceTypeNodePort ||
		(svc.Spec.Type == corev1.ServiceTypeClusterIP && len(svc.Spec.ExternalIPs) > 0)
}

func isHeadless(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeClusterIP && svc.Spec.ClusterIP == corev1.ClusterIPNone
}

// serviceWarnings are upstream's warnings for a Service being written.
func serviceWarnings(svc *corev1.Service) []string {
	var warnings []string
	spec := field.NewPath("spec")
	if _, ok := svc.Annotations[corev1.DeprecatedAnnotationTopologyAwareHints]; ok {
		warnings = append(warnings, fmt.Sprintf("annotation %s is deprecated, please use %s instead", corev1.DeprecatedAnnotationTopologyAwareHints, corev1.AnnotationTopologyMode))
	}
	if isIPSet(svc) {
		for i, ip := range svc.Spec.ClusterIPs {
			warnings = append(warnings, ipWarnings(spec.Child("clusterIPs").Index(i), ip)...)
		}
	}
	if isHeadless(svc) {
		if svc.Spec.LoadBalancerIP != "" {
			warnings = append(warnings, "spec.loadBalancerIP is ignored for headless services")
		}
		if len(svc.Spec.ExternalIPs) > 0 {
			warnings = append(warnings, "spec.externalIPs is ignored for headless services")
		}
		if svc.Spec.SessionAffinity != corev1.ServiceAffinityNone {
			warnings = append(warnings, "spec.SessionAffinity is ignored for headless services")
		}
	}
	for i, ip := range svc.Spec.ExternalIPs {
		warnings = append(warnings, ipWarnings(spec.Child("externalIPs").Index(i), ip)...)
	}
	if len(svc.Spec.ExternalIPs) > 0 && !isHeadless(svc) && svc.Spec.Type != corev1.ServiceTypeExternalName {
		warnings = append(warnings, "spec.externalIPs is deprecated and may no longer be implemented in some clusters")
	}
	if svc.Spec.LoadBalancerIP != "" {
		warnings = append(warnings, ipWarnings(spec.Child("loadBalancerIP"), svc.Spec.LoadBalancerIP)...)
	}
	for i, cidr := range svc.Spec.LoadBalancerSourceRanges {
		if _, _, err := netutils.ParseCIDRSloppy(cidr); err == nil {
			warnings = append(warnings, utilvalidation.GetWarningsForCIDR(spec.Child("loadBalancerSourceRanges").Index(i), cidr)...)
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName && len(svc.Spec.ExternalIPs) > 0 {
		warnings = append(warnings, fmt.Sprintf("spec.externalIPs is ignored when spec.type is %q", corev1.ServiceTypeExternalName))
	}
	if svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ExternalName != "" {
		warnings = append(warnings, fmt.Sprintf("spec.externalName is ignored when spec.type is not %q", corev1.ServiceTypeExternalName))
	}
	if td := svc.Spec.TrafficDistribution; td != nil && *td == corev1.ServiceTrafficDistributionPreferClose {
		warnings = append(warnings, fmt.Sprintf("spec.trafficDistribution: %q is deprecated; use %q", corev1.ServiceTrafficDistributionPreferClose, corev1.ServiceTrafficDistributionPreferSameZone))
	}
	return warnings
}

// ipWarnings skips values validation already rejected, which upstream's
// helper would only log about.
func ipWarnings(path *field.Path, ip string) []string {
	if netutils.ParseIPSloppy(ip) == nil {
		return nil
	}
	return utilvalidation.GetWarningsForIP(path, ip)
}

// installServiceStorage turns the generic services store into upstream's
// Service REST and returns the services/status storage to serve.
func (r *Registry) installServiceStorage(s *registry.Storage) rest.Storage {
	store := s.Store
	base := store.CreateStrategy.(baseStrategy)
	strategy := serviceStrategy{base}
	store.CreateStrategy = strategy
	store.UpdateStrategy = strategy
	store.BeginCreate = r.beginCreate
	store.BeginUpdate = r.beginUpdate
	store.AfterDelete = r.afterDelete
	store.Decorator = r.defaultOnRead

	status := *store
	status.UpdateStrategy = serviceStatusStrategy{base}
	status.ResetFieldsStrategy = statusResetFields{group: ""}
	status.BeginCreate, status.BeginUpdate = nil, nil
	// A status write that removes the last finalizer deletes the Service,
	// which must release what it holds.
	status.AfterDelete = r.afterDelete
	return registry.NewStatusREST(&status)
}

// statusResetFields makes server-side apply through /status ignore the spec.
type statusResetFields struct{ group string }

func (f statusResetFields) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return resetFields(f.group, "spec")
}

func resetFields(group string, paths ...string) map[fieldpath.APIVersion]*fieldpath.Set {
	out := map[fieldpath.APIVersion]*fieldpath.Set{}
	for _, gv := range apis.ServedGroupVersions {
		if gv.Group != group {
			continue
		}
		set := fieldpath.NewSet()
		for _, p := range paths {
			set.Insert(fieldpath.MakePathOrDie(p))
		}
		out[fieldpath.APIVersion(gv.String())] = set
	}
	return out
}

// ipAddressStrategy is upstream's IPAddress strategy: an IPAddress is
// named by its address, so generateName is taken as the name itself.
type ipAddressStrategy struct{ baseStrategy }

func (ipAddressStrategy) GenerateName(base string) string { return base }

func installIPAddressStorage(s *registry.Storage) {
	strategy := ipAddressStrategy{s.Store.CreateStrategy.(baseStrategy)}
	s.Store.CreateStrategy = strategy
	s.Store.UpdateStrategy = strategy
}

// serviceCIDRStatusStrategy lets /status change the status only: spec and
// metadata stay as stored, as upstream's ServiceCIDR status strategy does.
type serviceCIDRStatusStrategy struct{ baseStrategy }

func (serviceCIDRStatusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	sc, oldSC := obj.(*networkingv1.ServiceCIDR), old.(*networkingv1.ServiceCIDR)
	sc.Spec = oldSC.Spec
	metav1.ResetObjectMetaForStatus(&sc.ObjectMeta, &oldSC.ObjectMeta)
}

func (serviceCIDRStatusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateStatusUpdate(obj, old)
}

type serviceCIDRStatusResetFields struct{}

func (serviceCIDRStatusResetFields) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return resetFields("networking.k8s.io", "metadata", "spec")
}

// installServiceCIDRStorage returns the servicecidrs/status storage; the
// main resource keeps the generic strategy.
func installServiceCIDRStorage(s *registry.Storage) rest.Storage {
	status := *s.Store
	status.UpdateStrategy = serviceCIDRStatusStrategy{s.Store.CreateStrategy.(baseStrategy)}
	status.ResetFieldsStrategy = serviceCIDRStatusResetFields{}
	return registry.NewStatusREST(&status)
}
