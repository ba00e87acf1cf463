package service

import (
	"context"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	metav1apply "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1apply "k8s.io/client-go/applyconfigurations/networking/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"
)

const (
	// DefaultServiceCIDRName is the ServiceCIDR made from --service-cidr.
	DefaultServiceCIDRName = "kubernetes"
	defaultCIDRController  = "kubernetes-service-cidr-controller"
	defaultCIDRInterval    = 10 * time.Second
)

// defaultServiceCIDR keeps the "kubernetes" ServiceCIDR in place, as
// upstream's kubernetes-service-cidr-controller in the API server does: it
// recreates it when deleted, never changes its CIDRs except to add a second
// family, and marks it Ready when it matches the flags.
type defaultServiceCIDR struct {
	client               kubernetes.Interface
	cidrs                []string
	reportedMismatch     bool
	reportedNotReadyCond bool
}

// start returns after the first successful sync, as upstream does so that
// Services can be allocated once the API server is ready.
func (d *defaultServiceCIDR) start(ctx context.Context) error {
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := d.sync(ctx); err != nil {
			klog.V(2).InfoS("Default ServiceCIDR not synced yet", "err", err)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := d.sync(ctx); err != nil {
			klog.ErrorS(err, "Error trying to sync the default ServiceCIDR")
		}
	}, defaultCIDRInterval)
	return nil
}

func (d *defaultServiceCIDR) sync(ctx context.Context) error {
	api := d.client.NetworkingV1().ServiceCIDRs()
	sc, err := api.Get(ctx, DefaultServiceCIDRName, metav1.GetOptions{})
	if err == nil {
		if len(d.cidrs) == 2 && len(sc.Spec.CIDRs) == 1 && d.cidrs[0] == sc.Spec.CIDRs[0] {
			klog.InfoS("Updating default ServiceCIDR from single-stack to dual-stack", "from", sc.Spec.CIDRs, "to", d.cidrs)
			upgraded := sc.DeepCopy()
			upgraded.Spec.CIDRs = d.cidrs
			if _, err := api.Update(ctx, upgraded, metav1.UpdateOptions{}); err != nil {
				klog.ErrorS(err, "The default ServiceCIDR can not be updated to dual stack", "from", d.cidrs[0], "to", d.cidrs)
			}
			return nil
		}
		d.syncStatus(ctx, sc)
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return err
	}
	klog.InfoS("Creating default ServiceCIDR", "CIDRs", d.cidrs)
	sc, err = api.Create(ctx, &networkingv1.ServiceCIDR{
		ObjectMeta: metav1.ObjectMeta{Name: DefaultServiceCIDRName},
		Spec:       networkingv1.ServiceCIDRSpec{CIDRs: d.cidrs},
	}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return err
	}
	d.syncStatus(ctx, sc)
	return nil
}

func (d *defaultServiceCIDR) syncStatus(ctx context.Context, sc *networkingv1.ServiceCIDR) {
	// Deletion is the service-cidr controller's business.
	if sc.DeletionTimestamp != nil {
		return
	}
	if !sameCIDRs(d.cidrs, sc.Spec.CIDRs) {
		if !d.reportedMismatch {
			klog.InfoS("Inconsistent ServiceCIDR status", "serviceCIDR", klog.KObj(sc), "controllerCIDRs", d.cidrs, "serviceCIDRs", sc.Spec.CIDRs)
			d.reportedMismatch = true
		}
		return
	}
	cond := apimeta.FindStatusCondition(sc.Status.Conditions, networkingv1.ServiceCIDRConditionReady)
	switch {
	case cond != nil && cond.Status == metav1.ConditionFalse:
		// Someone else decided; an administrator has to look.
		if !d.reportedNotReadyCond {
			klog.InfoS("Default ServiceCIDR condition Ready is False, but controller configuration matches. Please validate your cluster's network configuration.", "serviceCIDR", klog.KObj(sc), "reason", cond.Reason, "message", cond.Message)
			d.reportedNotReadyCond = true
		}
	case cond != nil && cond.Status == metav1.ConditionTrue:
	default:
		klog.InfoS("Setting default ServiceCIDR condition Ready to True")
		apply := networkingv1apply.ServiceCIDR(DefaultServiceCIDRName).WithStatus(networkingv1apply.ServiceCIDRStatus().WithConditions(
			metav1apply.Condition().
				WithType(networkingv1.ServiceCIDRConditionReady).
				WithStatus(metav1.ConditionTrue).
				WithMessage("Kubernetes default Service CIDR is ready").
				WithLastTransitionTime(metav1.Now())))
		if _, err := d.client.NetworkingV1().ServiceCIDRs().ApplyStatus(ctx, apply, metav1.ApplyOptions{FieldManager: defaultCIDRController, Force: true}); err != nil {
			klog.ErrorS(err, "Error updating default ServiceCIDR status")
		}
	}
}

// sameCIDRs compares CIDR lists by the networks they denote.
func sameCIDRs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		_, na, errA := netutils.ParseCIDRSloppy(a[i])
		_, nb, errB := netutils.ParseCIDRSloppy(b[i])
		if errA != nil || errB != nil || na.String() != nb.String() {
			return false
		}
	}
	return true
}
