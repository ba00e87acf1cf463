package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/util/dryrun"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"
)

// This file follows upstream's pkg/registry/core/service/storage (storage.go
// and alloc.go): what the Service registry does around the generic store.

var serviceKind = corev1.SchemeGroupVersion.WithKind("Service").GroupKind()

// releaseTimeout bounds the clean-up work that runs after a request is
// answered, when the request's own context may be gone.
const releaseTimeout = 30 * time.Second

func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
}

func logReleaseError(what string, value any, err error) {
	klog.ErrorS(err, "Failed to release", "what", what, "value", value)
}

// txn collects what must happen when the write of a Service succeeds or fails.
type txn struct {
	onCommit, onRevert []func(ctx context.Context)
}

func (t *txn) add(commit, revert func(ctx context.Context)) {
	if commit != nil {
		t.onCommit = append(t.onCommit, commit)
	}
	if revert != nil {
		t.onRevert = append(t.onRevert, revert)
	}
}

func (t *txn) finish(ctx context.Context, success bool) {
	ctx, cancel := detached(ctx)
	defer cancel()
	fns := t.onRevert
	if success {
		fns = t.onCommit
	}
	for _, fn := range fns {
		fn(ctx)
	}
}

func (r *Registry) beginCreate(ctx context.Context, obj runtime.Object, options *metav1.CreateOptions) (genericregistry.FinishFunc, error) {
	svc := obj.(*corev1.Service)
	normalizeClusterIPs(svc, nil)
	t, err := r.allocateCreate(ctx, svc, dryrun.IsDryRun(options.DryRun))
	if err != nil {
		return nil, err
	}
	return t.finish, nil
}

func (r *Registry) beginUpdate(ctx context.Context, obj, old runtime.Object, options *metav1.UpdateOptions) (genericregistry.FinishFunc, error) {
	svc, oldSvc := obj.(*corev1.Service), old.(*corev1.Service)
	// The Decorator does not run on the stored object of an update.
	r.defaultOnReadService(oldSvc)
	patchAllocatedValues(svc, oldSvc)
	normalizeClusterIPs(svc, oldSvc)
	t, err := r.allocateUpdate(ctx, svc, oldSvc, dryrun.IsDryRun(options.DryRun))
	if err != nil {
		return nil, err
	}
	return t.finish, nil
}

func (r *Registry) afterDelete(obj runtime.Object, options *metav1.DeleteOptions) {
	svc := obj.(*corev1.Service)
	r.defaultOnReadService(svc)
	if dryrun.IsDryRun(options.DryRun) {
		return
	}
	ctx, cancel := detached(context.Background())
	defer cancel()
	r.releaseAllocatedResources(ctx, svc)
}

// defaultOnRead fills linked fields of Services stored before they existed,
// so every reader sees them.
func (r *Registry) defaultOnRead(obj runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Service:
		r.defaultOnReadService(o)
	case *corev1.ServiceList:
		for i := range o.Items {
			r.defaultOnReadService(&o.Items[i])
		}
	}
}

func (r *Registry) defaultOnReadService(svc *corev1.Service) {
	if svc == nil {
		return
	}
	normalizeClusterIPs(svc, nil)
	r.defaultOnReadIPFamilies(svc)
	// internalTrafficPolicy was once defaulted for ExternalName too; it
	// means nothing there and is hidden.
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		svc.Spec.InternalTrafficPolicy = nil
	}
}

func (r *Registry) defaultOnReadIPFamilies(svc *corev1.Service) {
	if !needsClusterIP(svc) || len(svc.Spec.IPFamilies) > 0 {
		return
	}
	primary := r.defaultFamily()
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		if len(svc.Spec.Selector) == 0 {
			svc.Spec.IPFamilyPolicy = ptrTo(corev1.IPFamilyPolicyRequireDualStack)
			svc.Spec.IPFamilies = []corev1.IPFamily{primary, otherFamily(primary)}
		} else {
			svc.Spec.IPFamilyPolicy = ptrTo(corev1.IPFamilyPolicySingleStack)
			svc.Spec.IPFamilies = []corev1.IPFamily{primary}
		}
		return
	}
	svc.Spec.IPFamilies = make([]corev1.IPFamily, len(svc.Spec.ClusterIPs))
	for i, ip := range svc.Spec.ClusterIPs {
		svc.Spec.IPFamilies[i] = corev1.IPv4Protocol
		if netutils.IsIPv6String(ip) {
			svc.Spec.IPFamilies[i] = corev1.IPv6Protocol
		}
	}
	switch len(svc.Spec.IPFamilies) {
	case 1:
		svc.Spec.IPFamilyPolicy = ptrTo(corev1.IPFamilyPolicySingleStack)
	case 2:
		svc.Spec.IPFamilyPolicy = ptrTo(corev1.IPFamilyPolicyRequireDualStack)
	}
}

func ptrTo[T any](v T) *T { return &v }

func otherFamily(f corev1.IPFamily) corev1.IPFamily {
	if f == corev1.IPv4Protocol {
		return corev1.IPv6Protocol
	}
	return corev1.IPv4Protocol
}

// normalizeClusterIPs keeps clusterIP and clusterIPs in step for clients that
// set only the singular field. old is nil on create.
func normalizeClusterIPs(svc, old *corev1.Service) {
	if old == nil {
		if svc.Spec.ClusterIP != "" && len(svc.Spec.ClusterIPs) == 0 {
			svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
		}
		return
	}
	// An old client patching other fields drops clusterIPs but keeps clusterIP.
	if len(old.Spec.ClusterIPs) > 0 && len(svc.Spec.ClusterIPs) == 0 && old.Spec.ClusterIP == svc.Spec.ClusterIP {
		svc.Spec.ClusterIPs = old.Spec.ClusterIPs
	}
	if old.Spec.ClusterIP != svc.Spec.ClusterIP && sameClusterIPs(old, svc) {
		if old.Spec.ClusterIP != "" && svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIPs = nil
		} else {
			svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
		}
	}
}

// patchAllocatedValues keeps what was allocated when a client resubmits a
// Service without the allocated fields (e.g. kubectl replace of its YAML).
func patchAllocatedValues(svc, old *corev1.Service) {
	if needsClusterIP(old) && needsClusterIP(svc) {
		if svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIP = old.Spec.ClusterIP
		}
		if len(svc.Spec.ClusterIPs) == 0 && len(old.Spec.ClusterIPs) > 0 {
			svc.Spec.ClusterIPs = old.Spec.ClusterIPs
		}
	}
	if needsNodePort(old) && needsNodePort(svc) {
		used := nodePortSet(old).Intersection(nodePortSet(svc))
		byName := map[string]int32{}
		for _, p := range old.Spec.Ports {
			byName[p.Name] = p.NodePort
		}
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort == 0 && !used.Has(byName[p.Name]) {
				p.NodePort = byName[p.Name]
			}
		}
	}
	if needsHCNodePort(old) && needsHCNodePort(svc) && svc.Spec.HealthCheckNodePort == 0 {
		svc.Spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort
	}
}

func nodePortSet(svc *corev1.Service) sets.Set[int32] {
	out := sets.New[int32]()
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			out.Insert(p.NodePort)
		}
	}
	return out
}

func needsClusterIP(svc *corev1.Service) bool { return svc.Spec.Type != corev1.ServiceTypeExternalName }

// needsNodePort is true when the registry allocates NodePorts for svc.
func needsNodePort(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

func needsHCNodePort(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

func shouldAllocateNodePorts(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts != nil && *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

func sameClusterIPs(a, b *corev1.Service) bool {
	return equalSlices(a.Spec.ClusterIPs, b.Spec.ClusterIPs)
}

func sameIPFamilies(a, b *corev1.Service) bool {
	return equalSlices(a.Spec.IPFamilies, b.Spec.IPFamilies)
}

func equalSlices[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func ipFamilyPolicy(svc *corev1.Service) corev1.IPFamilyPolicy {
	if svc.Spec.IPFamilyPolicy == nil {
		return ""
	}
	return *svc.Spec.IPFamilyPolicy
}

func familyOf(ip string) corev1.IPFamily {
	switch {
	case netutils.IsIPv4String(ip):
		return corev1.IPv4Protocol
	case netutils.IsIPv6String(ip):
		return corev1.IPv6Protocol
	}
	return corev1.IPFamily("unknown")
}

func invalid(svc *corev1.Service, errs field.ErrorList) error {
	return apierrors.NewInvalid(serviceKind, svc.Name, errs)
}

func (r *Registry) allocateCreate(ctx context.Context, svc *corev1.Service, dryRun bool) (*txn, error) {
	t := &txn{}
	if err := r.initIPFamilyFields(svc, nil); err != nil {
		return nil, err
	}
	allocated, err := r.allocClusterIPs(ctx, svc, dryRun)
	if err != nil {
		return nil, err
	}
	t.add(func(context.Context) {
		if !dryRun && len(allocated) > 0 {
			klog.InfoS("allocated clusterIPs", "service", klog.KObj(svc), "clusterIPs", allocated)
		}
	}, func(ctx context.Context) {
		if !dryRun {
			r.releaseIPs(ctx, allocated)
		}
	})

	op := r.ports.start(dryRun)
	t.add(op.commit, op.finish)
	fail := func(err error) (*txn, error) {
		rctx, cancel := detached(ctx)
		defer cancel()
		for _, fn := range t.onRevert {
			fn(rctx)
		}
		return nil, err
	}
	if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		if err := initNodePorts(ctx, svc, op); err != nil {
			return fail(err)
		}
	}
	if needsHCNodePort(svc) {
		if err := allocHealthCheckNodePort(ctx, svc, op); err != nil {
			return fail(apierrors.NewInternalError(err))
		}
	}
	return t, nil
}

// initIPFamilyFields settles ipFamilyPolicy, ipFamilies and the shape of
// clusterIPs from what the user asked and what the cluster is configured for.
// old is nil on create.
func (r *Registry) initIPFamilyFields(svc, old *corev1.Service) error {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	// A PreferDualStack Service is not upgraded or downgraded behind the
	// user's back when the cluster changes.
	if isMatchingPreferDualStack(svc, old) {
		return nil
	}
	if svc.Spec.IPFamilyPolicy == nil {
		switch {
		case old != nil && old.Spec.IPFamilyPolicy != nil:
			svc.Spec.IPFamilyPolicy = old.Spec.IPFamilyPolicy
		case svc.Spec.ClusterIP == corev1.ClusterIPNone && len(svc.Spec.Selector) == 0:
			svc.Spec.IPFamilyPolicy = ptrTo(corev1.IPFamilyPolicyRequireDualStack)
		default:
			svc.Spec.IPFamilyPolicy = ptrTo(corev1.IPFamilyPolicySingleStack)
		}
	}
	if errs := validateClusterIPsRelatedFields(svc, old); len(errs) != 0 {
		return invalid(svc, errs)
	}

	var errs field.ErrorList
	policyPath := field.NewPath("spec", "ipFamilyPolicy")
	if old != nil {
		if ipFamilyPolicy(svc) == corev1.IPFamilyPolicySingleStack {
			// Asking for single-stack without touching the lists is clear
			// intent to drop the secondary family.
			if sameClusterIPs(old, svc) && len(svc.Spec.ClusterIPs) > 1 {
				svc.Spec.ClusterIPs = svc.Spec.ClusterIPs[0:1]
			}
			if sameIPFamilies(old, svc) && len(svc.Spec.IPFamilies) > 1 {
				svc.Spec.IPFamilies = svc.Spec.IPFamilies[0:1]
			}
		} else {
			if len(svc.Spec.ClusterIPs) != 0 && len(svc.Spec.ClusterIPs) < len(old.Spec.ClusterIPs) {
				errs = append(errs, field.Invalid(policyPath, svc.Spec.IPFamilyPolicy, "must be 'SingleStack' to release the secondary cluster IP"))
			}
			if len(svc.Spec.IPFamilies) != 0 && len(svc.Spec.IPFamilies) < len(old.Spec.IPFamilies) {
				errs = append(errs, field.Invalid(policyPath, svc.Spec.IPFamilyPolicy, "must be 'SingleStack' to release the secondary IP family"))
			}
		}
	}
	if ipFamilyPolicy(svc) == corev1.IPFamilyPolicySingleStack {
		if len(svc.Spec.ClusterIPs) == 2 {
			errs = append(errs, field.Invalid(policyPath, svc.Spec.IPFamilyPolicy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"))
		}
		if len(svc.Spec.IPFamilies) == 2 {
			errs = append(errs, field.Invalid(policyPath, svc.Spec.IPFamilyPolicy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"))
		}
	}
	// Families follow the IPs the user asked for.
	for i, ip := range svc.Spec.ClusterIPs {
		if ip == corev1.ClusterIPNone {
			break
		}
		fam := familyOf(ip)
		if i < len(svc.Spec.IPFamilies) {
			continue
		}
		if _, ok := r.ips[fam]; !ok {
			errs = append(errs, field.Invalid(field.NewPath("spec", "clusterIPs").Index(i), svc.Spec.ClusterIPs, fmt.Sprintf("%s is not configured on this cluster", fam)))
		} else {
			svc.Spec.IPFamilies = append(svc.Spec.IPFamilies, fam)
		}
	}
	if len(errs) > 0 {
		return invalid(svc, errs)
	}

	// Headless without a selector may list families the cluster lacks:
	// its endpoints are whatever the user puts there.
	if svc.Spec.ClusterIP == corev1.ClusterIPNone && len(svc.Spec.Selector) == 0 {
		if len(svc.Spec.IPFamilies) == 0 {
			svc.Spec.IPFamilies = []corev1.IPFamily{r.defaultFamily()}
		}
		if len(svc.Spec.IPFamilies) < 2 && ipFamilyPolicy(svc) != corev1.IPFamilyPolicySingleStack {
			svc.Spec.IPFamilies = append(svc.Spec.IPFamilies, otherFamily(svc.Spec.IPFamilies[0]))
		}
		return nil
	}

	if ipFamilyPolicy(svc) == corev1.IPFamilyPolicyRequireDualStack && len(r.ips) < 2 {
		errs = append(errs, field.Invalid(policyPath, svc.Spec.IPFamilyPolicy, "this cluster is not configured for dual-stack services"))
	}
	for i, fam := range svc.Spec.IPFamilies {
		if _, ok := r.ips[fam]; !ok {
			errs = append(errs, field.Invalid(field.NewPath("spec", "ipFamilies").Index(i), fam, "not configured on this cluster"))
		}
	}
	if len(errs) > 0 {
		return invalid(svc, errs)
	}
	if len(svc.Spec.IPFamilies) == 0 {
		svc.Spec.IPFamilies = []corev1.IPFamily{r.defaultFamily()}
	}
	if ipFamilyPolicy(svc) != corev1.IPFamilyPolicySingleStack && len(svc.Spec.IPFamilies) == 1 && len(r.ips) == 2 {
		svc.Spec.IPFamilies = append(svc.Spec.IPFamilies, otherFamily(svc.Spec.IPFamilies[0]))
	}
	return nil
}

func isMatchingPreferDualStack(svc, old *corev1.Service) bool {
	if old == nil || svc.Spec.IPFamilyPolicy == nil || old.Spec.Type != svc.Spec.Type {
		return false
	}
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
	default:
		return false
	}
	if *svc.Spec.IPFamilyPolicy != corev1.IPFamilyPolicyPreferDualStack {
		return false
	}
	if old.Spec.IPFamilyPolicy != nil && *old.Spec.IPFamilyPolicy != corev1.IPFamilyPolicyPreferDualStack {
		return false
	}
	return sameClusterIPs(old, svc) && sameIPFamilies(old, svc)
}

// allocClusterIPs fills clusterIPs for every family of svc, allocating the
// empty ones and reserving the requested ones.
func (r *Registry) allocClusterIPs(ctx context.Context, svc *corev1.Service, dryRun bool) (map[corev1.IPFamily]string, error) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, nil
	}
	if len(svc.Spec.ClusterIPs) > 0 && svc.Spec.ClusterIPs[0] == corev1.ClusterIPNone {
		return nil, nil
	}
	toAlloc := map[corev1.IPFamily]string{}
	for i, fam := range svc.Spec.IPFamilies {
		if i >= len(svc.Spec.ClusterIPs) {
			svc.Spec.ClusterIPs = append(svc.Spec.ClusterIPs, "")
		}
		toAlloc[fam] = svc.Spec.ClusterIPs[i]
	}
	allocated, err := r.allocIPs(ctx, svc, toAlloc, dryRun)
	if err != nil {
		return allocated, err
	}
	for i, fam := range svc.Spec.IPFamilies {
		if ip, ok := allocated[fam]; ok {
			svc.Spec.ClusterIPs[i] = ip
			if i == 0 {
				svc.Spec.ClusterIP = ip
			}
		}
	}
	return allocated, nil
}

func (r *Registry) allocIPs(ctx context.Context, svc *corev1.Service, toAlloc map[corev1.IPFamily]string, dryRun bool) (map[corev1.IPFamily]string, error) {
	allocated := map[corev1.IPFamily]string{}
	// On failure the caller releases nothing: undo this call's own work.
	undo := func() {
		if dryRun {
			return
		}
		rctx, cancel := detached(ctx)
		defer cancel()
		r.releaseIPs(rctx, allocated)
	}
	for _, fam := range r.families {
		ip, ok := toAlloc[fam]
		if !ok {
			continue
		}
		a := r.ips[fam]
		if ip == "" {
			got, err := a.allocateNext(ctx, svc, dryRun)
			if err != nil {
				undo()
				if errors.Is(err, errIPFull) {
					return nil, apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP for Service %q: %w", svc.Name, err))
				}
				return nil, invalid(svc, field.ErrorList{field.Invalid(field.NewPath("spec", "clusterIPs"), svc.Spec.ClusterIPs, fmt.Sprintf("failed to allocate IP: %v", err))})
			}
			allocated[fam] = got.String()
			continue
		}
		parsed := netutils.ParseIPSloppy(ip)
		if parsed == nil {
			undo()
			return nil, apierrors.NewInternalError(fmt.Errorf("failed to parse service IP %q", ip))
		}
		if err := a.allocate(ctx, svc, parsed, dryRun); err != nil {
			undo()
			return nil, invalid(svc, field.ErrorList{field.Invalid(field.NewPath("spec", "clusterIPs"), svc.Spec.ClusterIPs, fmt.Sprintf("failed to allocate IP %v: %v", ip, err))})
		}
		allocated[fam] = ip
	}
	return allocated, nil
}

func (r *Registry) releaseIPs(ctx context.Context, ips map[corev1.IPFamily]string) {
	for fam, ip := range ips {
		a, ok := r.ips[fam]
		if !ok {
			klog.InfoS("Not releasing ClusterIP because related family is not enabled", "clusterIP", ip, "family", fam)
			continue
		}
		parsed := netutils.ParseIPSloppy(ip)
		if parsed == nil {
			continue
		}
		a.release(ctx, parsed.String())
	}
}

func initNodePorts(ctx context.Context, svc *corev1.Service, op *portOperation) error {
	byServicePort := map[int32]int32{}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		if sp.NodePort == 0 && !shouldAllocateNodePorts(svc) {
			// Specific requests are honoured even when nothing is allocated.
			continue
		}
		got := byServicePort[sp.Port]
		if got == 0 {
			// The same service port on several protocols shares one NodePort;
			// a value the user gave for any of them wins.
			np := requestedNodePort(sp.Port, svc.Spec.Ports)
			if np != 0 {
				if err := op.allocate(ctx, int(np)); err != nil {
					return invalid(svc, field.ErrorList{field.Invalid(field.NewPath("spec", "ports").Index(i).Child("nodePort"), np, err.Error())})
				}
			} else {
				port, err := op.allocateNext(ctx)
				if err != nil {
					return apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: %w", err))
				}
				np = int32(port)
			}
			sp.NodePort = np
			byServicePort[sp.Port] = np
			continue
		}
		if sp.NodePort == got {
			continue
		}
		if sp.NodePort == 0 {
			sp.NodePort = got
			continue
		}
		if err := op.allocate(ctx, int(sp.NodePort)); err != nil {
			return invalid(svc, field.ErrorList{field.Invalid(field.NewPath("spec", "ports").Index(i).Child("nodePort"), sp.NodePort, err.Error())})
		}
	}
	return nil
}

func requestedNodePort(port int32, ports []corev1.ServicePort) int32 {
	for _, p := range ports {
		if p.Port == port && p.NodePort != 0 {
			return p.NodePort
		}
	}
	return 0
}

func allocHealthCheckNodePort(ctx context.Context, svc *corev1.Service, op *portOperation) error {
	if hc := svc.Spec.HealthCheckNodePort; hc != 0 {
		if err := op.allocate(ctx, int(hc)); err != nil {
			return fmt.Errorf("failed to allocate requested HealthCheck NodePort %v: %v", hc, err)
		}
		return nil
	}
	port, err := op.allocateNext(ctx)
	if err != nil {
		return fmt.Errorf("failed to allocate a HealthCheck NodePort %v: %v", port, err)
	}
	svc.Spec.HealthCheckNodePort = int32(port)
	return nil
}

func (r *Registry) allocateUpdate(ctx context.Context, svc, old *corev1.Service, dryRun bool) (*txn, error) {
	t := &txn{}
	if err := r.initIPFamilyFields(svc, old); err != nil {
		return nil, err
	}
	allocated, released, err := r.updateClusterIPs(ctx, svc, old, dryRun)
	if err != nil {
		return nil, err
	}
	t.add(func(ctx context.Context) {
		if dryRun {
			return
		}
		if len(allocated) > 0 {
			klog.InfoS("allocated clusterIPs", "service", klog.KObj(svc), "clusterIPs", allocated)
		}
		r.releaseIPs(ctx, released)
	}, func(ctx context.Context) {
		if !dryRun {
			r.releaseIPs(ctx, allocated)
		}
	})

	op := r.ports.start(dryRun)
	t.add(op.commit, op.finish)
	fail := func(err error) (*txn, error) {
		rctx, cancel := detached(ctx)
		defer cancel()
		for _, fn := range t.onRevert {
			fn(rctx)
		}
		return nil, err
	}
	wasNodePort := old.Spec.Type == corev1.ServiceTypeNodePort || old.Spec.Type == corev1.ServiceTypeLoadBalancer
	isNodePort := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
	if wasNodePort && !isNodePort {
		for _, port := range collectNodePorts(old) {
			op.releaseDeferred(port)
		}
	}
	if isNodePort {
		if err := updateNodePorts(ctx, svc, old, op); err != nil {
			return fail(err)
		}
	}
	// The health check port follows externalTrafficPolicy.
	switch needed, needs := needsHCNodePort(old), needsHCNodePort(svc); {
	case !needed && needs:
		if err := allocHealthCheckNodePort(ctx, svc, op); err != nil {
			return fail(apierrors.NewInternalError(err))
		}
	case needed && !needs:
		op.releaseDeferred(int(old.Spec.HealthCheckNodePort))
	}
	return t, nil
}

// updateClusterIPs works out the ClusterIP changes of an update; what it
// returns as released is released only once the update is stored.
func (r *Registry) updateClusterIPs(ctx context.Context, svc, old *corev1.Service, dryRun bool) (allocated, released map[corev1.IPFamily]string, err error) {
	if isMatchingPreferDualStack(svc, old) {
		return nil, nil, nil
	}
	// ExternalName to a type with a ClusterIP.
	if old.Spec.Type == corev1.ServiceTypeExternalName && svc.Spec.Type != corev1.ServiceTypeExternalName {
		allocated, err := r.allocClusterIPs(ctx, svc, dryRun)
		return allocated, nil, err
	}
	if len(old.Spec.ClusterIPs) > 0 && old.Spec.ClusterIPs[0] == corev1.ClusterIPNone {
		return nil, nil, nil
	}
	// A type with a ClusterIP to ExternalName.
	if old.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.Type == corev1.ServiceTypeExternalName {
		released = map[corev1.IPFamily]string{}
		for i, fam := range old.Spec.IPFamilies {
			if i < len(old.Spec.ClusterIPs) {
				released[fam] = old.Spec.ClusterIPs[i]
			}
		}
		return nil, released, nil
	}
	switch {
	case len(old.Spec.IPFamilies) == 1 && len(svc.Spec.IPFamilies) == 2: // upgrade to dual-stack
		if len(svc.Spec.ClusterIPs) < 2 {
			svc.Spec.ClusterIPs = append(svc.Spec.ClusterIPs, "")
		}
		fam := svc.Spec.IPFamilies[1]
		allocated, err := r.allocIPs(ctx, svc, map[corev1.IPFamily]string{fam: svc.Spec.ClusterIPs[1]}, dryRun)
		if err != nil {
			return nil, nil, err
		}
		svc.Spec.ClusterIPs[1] = allocated[fam]
		return allocated, nil, nil
	case len(old.Spec.IPFamilies) == 2 && len(svc.Spec.IPFamilies) == 1: // downgrade
		if len(old.Spec.ClusterIPs) > 1 {
			return nil, map[corev1.IPFamily]string{old.Spec.IPFamilies[1]: old.Spec.ClusterIPs[1]}, nil
		}
	}
	return nil, nil, nil
}

func updateNodePorts(ctx context.Context, svc, old *corev1.Service, op *portOperation) error {
	oldPorts := collectNodePorts(old)
	type nodePort struct {
		protocol corev1.Protocol
		port     int32
	}
	var seen []nodePort
	reserved := map[int]bool{}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		if sp.NodePort == 0 && !shouldAllocateNodePorts(svc) {
			continue
		}
		np := nodePort{protocol: sp.Protocol, port: sp.NodePort}
		if np.port != 0 {
			if !containsInt(oldPorts, int(np.port)) && !reserved[int(np.port)] {
				if err := op.allocate(ctx, int(np.port)); err != nil {
					return invalid(svc, field.ErrorList{field.Invalid(field.NewPath("spec", "ports").Index(i).Child("nodePort"), np.port, err.Error())})
				}
				reserved[int(np.port)] = true
			}
		} else {
			port, err := op.allocateNext(ctx)
			if err != nil {
				return apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: %w", err))
			}
			sp.NodePort = int32(port)
			np.port = sp.NodePort
		}
		for _, s := range seen {
			if s == np {
				return fmt.Errorf("duplicate nodePort: %v", struct {
					Protocol corev1.Protocol
					NodePort int32
				}{np.protocol, np.port})
			}
		}
		seen = append(seen, np)
	}
	newPorts := collectNodePorts(svc)
	for _, port := range oldPorts {
		if !containsInt(newPorts, port) {
			op.releaseDeferred(port)
		}
	}
	return nil
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func collectNodePorts(svc *corev1.Service) []int {
	var out []int
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			out = append(out, int(p.NodePort))
		}
	}
	return out
}

// releaseAllocatedResources gives back everything a deleted Service held.
func (r *Registry) releaseAllocatedResources(ctx context.Context, svc *corev1.Service) {
	if needsClusterIP(svc) && !(len(svc.Spec.ClusterIPs) > 0 && svc.Spec.ClusterIPs[0] == corev1.ClusterIPNone) {
		ips := map[corev1.IPFamily]string{}
		for _, ip := range svc.Spec.ClusterIPs {
			fam := corev1.IPv4Protocol
			if netutils.IsIPv6String(ip) {
				fam = corev1.IPv6Protocol
			}
			ips[fam] = ip
		}
		r.releaseIPs(ctx, ips)
	}
	for _, port := range collectNodePorts(svc) {
		if err := r.ports.release(ctx, port); err != nil {
			logReleaseError("node port", port, err)
		}
	}
	if needsHCNodePort(svc) && svc.Spec.HealthCheckNodePort > 0 {
		if err := r.ports.release(ctx, int(svc.Spec.HealthCheckNodePort)); err != nil {
			logReleaseError("health check node port", svc.Spec.HealthCheckNodePort, err)
		}
	}
}

// isIPSet mirrors upstream's helper: a Service has a real ClusterIP.
func isIPSet(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP != corev1.ClusterIPNone && svc.Spec.ClusterIP != ""
}
