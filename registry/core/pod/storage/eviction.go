package storage

import (
	"context"
	goerrors "errors"
	"fmt"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/util/dryrun"
	policyclient "k8s.io/client-go/kubernetes/typed/policy/v1"
	"k8s.io/client-go/util/retry"
	pdbhelper "k8s.io/component-helpers/apps/poddisruptionbudget"

	"github.com/skiff-dev/skiff/registry/core/pod"
)

// maxDisruptedPods bounds the evictions a budget may have approved that its
// controller has not yet seen; beyond it evictions are refused until the
// controller catches up.
const maxDisruptedPods = 2000

// evictionRetry paces retries on write conflicts with other evictions.
var evictionRetry = wait.Backoff{Steps: 20, Duration: 500 * time.Millisecond, Factor: 1.0, Jitter: 0.1}

var evictionKind = schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}

// EvictionREST serves pods/eviction: a delete that respects the pod's
// disruption budget.
type EvictionREST struct {
	store rest.StandardStorage
	pdbs  policyclient.PodDisruptionBudgetsGetter
}

var (
	_ rest.NamedCreater             = &EvictionREST{}
	_ rest.GroupVersionKindProvider = &EvictionREST{}
	_ rest.GroupVersionAcceptor     = &EvictionREST{}
)

func (r *EvictionREST) New() runtime.Object { return &policyv1.Eviction{} }
func (r *EvictionREST) Destroy()            {}

// GroupVersionKind tells discovery that pods/eviction takes a policy/v1 Eviction.
func (r *EvictionREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return evictionKind
}

// AcceptsGroupVersion accepts policy/v1 Evictions; skiff does not serve
// policy/v1beta1, so a v1beta1 body could not be decoded.
func (r *EvictionREST) AcceptsGroupVersion(gv schema.GroupVersion) bool {
	return gv == policyv1.SchemeGroupVersion
}

// Create evicts the pod: at once when it is not running or already going,
// otherwise only if its disruption budget allows one more disruption.
func (r *EvictionREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	eviction, ok := obj.(*policyv1.Eviction)
	if !ok {
		return nil, errors.NewBadRequest(fmt.Sprintf("not a Eviction object: %T", obj))
	}
	if name != eviction.Name {
		return nil, errors.NewBadRequest("name in URL does not match name in Eviction object")
	}
	if do := eviction.DeleteOptions; do != nil && do.IgnoreStoreReadErrorWithClusterBreakingPotential != nil && *do.IgnoreStoreReadErrorWithClusterBreakingPotential {
		errs := field.ErrorList{field.Invalid(field.NewPath("deleteOptions").Child("ignoreStoreReadErrorWithClusterBreakingPotential"), true, "can not be set for pod eviction, try after removing the option")}
		return nil, errors.NewInvalid(evictionKind.GroupKind(), name, errs)
	}
	deleteOptions, err := propagateDryRun(eviction, options)
	if err != nil {
		return nil, err
	}
	if createValidation != nil {
		if err := createValidation(ctx, eviction.DeepCopyObject()); err != nil {
			return nil, err
		}
	}

	// A pod that is not running (or already terminating) disrupts nothing:
	// delete it without consulting budgets. Conflicts are retried unless the
	// client pinned a resourceVersion.
	var p *corev1.Pod
	deleted := false
	shouldRetry := errors.IsConflict
	if !resourceVersionIsUnset(deleteOptions) {
		shouldRetry = func(error) bool { return false }
	}
	err = retry.OnError(evictionRetry, shouldRetry, func() error {
		p, err = getPod(ctx, r.store, eviction.Name)
		if err != nil {
			return err
		}
		if !canIgnorePDB(p) {
			return nil
		}
		opts := deleteOptions
		// Pin the version we looked at, so a pod that became ready meanwhile
		// is not deleted past its budget.
		if shouldEnforceResourceVersion(p) && resourceVersionIsUnset(deleteOptions) {
			opts = opts.DeepCopy()
			setPreconditionsResourceVersion(opts, &p.ResourceVersion)
		}
		if err := r.markAndDelete(ctx, eviction.Name, opts); err != nil {
			return err
		}
		deleted = true
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case deleted:
		return &metav1.Status{Status: metav1.StatusSuccess}, nil
	}

	var result *metav1.Status
	var pdbName string
	pinVersion := false
	err = func() error {
		pdbs, err := r.budgetsFor(ctx, p)
		if err != nil {
			return err
		}
		if len(pdbs) > 1 {
			result = &metav1.Status{
				Status:  metav1.StatusFailure,
				Message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
				Code:    500,
			}
			return nil
		}
		if len(pdbs) == 0 {
			return nil
		}
		pdb := &pdbs[0]
		pdbName = pdb.Name

		// An unready pod is not counted healthy; deleting it does not use up
		// the budget when the policy says so or the application is healthy
		// without it.
		if !pod.IsReady(p) {
			if pdb.Spec.UnhealthyPodEvictionPolicy != nil && *pdb.Spec.UnhealthyPodEvictionPolicy == policyv1.AlwaysAllow {
				pinVersion = true
				return nil
			}
			if pdb.Status.CurrentHealthy >= pdb.Status.DesiredHealthy && pdb.Status.DesiredHealthy > 0 {
				pinVersion = true
				return nil
			}
		}

		refresh := false
		return retry.RetryOnConflict(evictionRetry, func() error {
			if refresh {
				pdb, err = r.pdbs.PodDisruptionBudgets(p.Namespace).Get(ctx, pdbName, metav1.GetOptions{})
				if err != nil {
					return err
				}
			}
			if err := r.checkAndDecrement(ctx, p.Namespace, p.Name, *pdb, dryrun.IsDryRun(deleteOptions.DryRun)); err != nil {
				refresh = true
				return err
			}
			return nil
		})
	}()
	if wait.Interrupted(err) {
		err = errors.NewTimeoutError(fmt.Sprintf("couldn't update PodDisruptionBudget %q due to conflicts", pdbName), 10)
	}
	if err != nil {
		return nil, err
	}
	if result != nil {
		return result, nil
	}

	opts := deleteOptions
	if pinVersion {
		// The pod must still be the unready one we judged.
		opts = opts.DeepCopy()
		setPreconditionsResourceVersion(opts, &p.ResourceVersion)
	}
	if err := r.markAndDelete(ctx, eviction.Name, opts); err != nil {
		if errors.IsConflict(err) && pinVersion && resourceVersionIsUnset(deleteOptions) {
			// It changed (perhaps became ready): let the client retry.
			return nil, tooManyRequests(pdbName)
		}
		return nil, err
	}
	return &metav1.Status{Status: metav1.StatusSuccess}, nil
}

// propagateDryRun merges the request's dry-run option into the Eviction's
// delete options; the two may not disagree.
func propagateDryRun(eviction *policyv1.Eviction, options *metav1.CreateOptions) (*metav1.DeleteOptions, error) {
	if eviction.DeleteOptions == nil {
		return &metav1.DeleteOptions{DryRun: options.DryRun}, nil
	}
	if len(eviction.DeleteOptions.DryRun) == 0 {
		eviction.DeleteOptions.DryRun = options.DryRun
		return eviction.DeleteOptions, nil
	}
	if len(options.DryRun) == 0 {
		return eviction.DeleteOptions, nil
	}
	if !reflect.DeepEqual(options.DryRun, eviction.DeleteOptions.DryRun) {
		return nil, fmt.Errorf("Non-matching dry-run options in request and content: %v and %v", options.DryRun, eviction.DeleteOptions.DryRun)
	}
	return eviction.DeleteOptions, nil
}

// markAndDelete records why the pod goes (a DisruptionTarget condition) and
// deletes it, keeping the client's preconditions across the two writes.
func (r *EvictionREST) markAndDelete(ctx context.Context, name string, options *metav1.DeleteOptions) error {
	if !dryrun.IsDryRun(options.DryRun) {
		// The update starts from the stored pod, checked against the
		// delete preconditions, and only adds the condition.
		latest := func(_ context.Context, _, oldObj runtime.Object) (runtime.Object, error) {
			p := oldObj.(*corev1.Pod).DeepCopy()
			if pre := options.Preconditions; pre != nil {
				if uid := pre.UID; uid != nil && *uid != "" && *uid != p.UID {
					return nil, errors.NewConflict(schema.GroupResource{Resource: "Pod"}, p.Name,
						fmt.Errorf("the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated", *uid, p.UID))
				}
				if rv := pre.ResourceVersion; rv != nil && *rv != "" && *rv != p.ResourceVersion {
					return nil, errors.NewConflict(schema.GroupResource{Resource: "Pod"}, p.Name,
						fmt.Errorf("the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s). The object might have been modified", *rv, p.ResourceVersion))
				}
			}
			return p, nil
		}
		addCondition := func(_ context.Context, newObj, _ runtime.Object) (runtime.Object, error) {
			p := newObj.(*corev1.Pod)
			pod.UpdateCondition(&p.Status, corev1.PodCondition{
				Type:    corev1.DisruptionTarget,
				Status:  corev1.ConditionTrue,
				Reason:  "EvictionByEvictionAPI",
				Message: "Eviction API: evicting",
			})
			return p, nil
		}
		updated, _, err := r.store.Update(ctx, name, rest.DefaultUpdatedObjectInfo(nil, latest, addCondition),
			rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		if !resourceVersionIsUnset(options) {
			// Our own write moved the version the client pinned.
			rv, err := meta.NewAccessor().ResourceVersion(updated)
			if err != nil {
				return err
			}
			options = options.DeepCopy()
			options.Preconditions.ResourceVersion = &rv
		}
	}
	_, _, err := r.store.Delete(ctx, name, rest.ValidateAllObjectFunc, options)
	return err
}

func setPreconditionsResourceVersion(options *metav1.DeleteOptions, rv *string) {
	if options.Preconditions == nil {
		options.Preconditions = &metav1.Preconditions{}
	}
	options.Preconditions.ResourceVersion = rv
}

// canIgnorePDB is true for pods whose deletion disrupts nothing more.
func canIgnorePDB(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed ||
		p.Status.Phase == corev1.PodPending || !p.DeletionTimestamp.IsZero()
}

// shouldEnforceResourceVersion is false only for pods that can no longer
// become healthy.
func shouldEnforceResourceVersion(p *corev1.Pod) bool {
	return !(p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || !p.DeletionTimestamp.IsZero())
}

func resourceVersionIsUnset(options *metav1.DeleteOptions) bool {
	return options.Preconditions == nil || options.Preconditions.ResourceVersion == nil
}

func tooManyRequests(pdbName string) error {
	err := errors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10)
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
		Type:    policyv1.DisruptionBudgetCause,
		Message: fmt.Sprintf("The disruption budget %s is still being processed by the server.", pdbName),
	})
	return err
}

// checkAndDecrement takes one disruption from the budget and records the
// pod as disrupted, so the disruption controller does not count it as
// available while it terminates.
func (r *EvictionREST) checkAndDecrement(ctx context.Context, namespace, podName string, pdb policyv1.PodDisruptionBudget, dryRun bool) error {
	if pdb.Status.ObservedGeneration < pdb.Generation {
		return tooManyRequests(pdb.Name)
	}
	forbidden := func(reason, detail string) error {
		err := errors.NewForbidden(schema.GroupResource{Group: "policy", Resource: "poddisruptionbudget"}, pdb.Name, goerrors.New(reason))
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
			Type:    policyv1.DisruptionBudgetCause,
			Message: fmt.Sprintf("The disruption budget %s does not allow evicting pods currently: %s", pdb.Name, detail),
		})
		return err
	}
	if pdb.Status.DisruptionsAllowed < 0 {
		return forbidden("pdb disruptions allowed is negative", "pdb disruptions allowed is negative")
	}
	if len(pdb.Status.DisruptedPods) > maxDisruptedPods {
		return forbidden("DisruptedPods map too big - too many evictions not confirmed by PDB controller",
			"too many pending evictions not confirmed by PDB controller")
	}
	if pdb.Status.DisruptionsAllowed == 0 {
		err := errors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
			Type:    policyv1.DisruptionBudgetCause,
			Message: budgetExhaustedMessage(&pdb),
		})
		return err
	}

	pdb.Status.DisruptionsAllowed--
	if pdb.Status.DisruptionsAllowed == 0 {
		pdbhelper.UpdateDisruptionAllowedCondition(&pdb)
	}
	if dryRun {
		return nil
	}
	if pdb.Status.DisruptedPods == nil {
		pdb.Status.DisruptedPods = map[string]metav1.Time{}
	}
	pdb.Status.DisruptedPods[podName] = metav1.Time{Time: time.Now()}
	_, err := r.pdbs.PodDisruptionBudgets(namespace).UpdateStatus(ctx, &pdb, metav1.UpdateOptions{})
	return err
}

// budgetExhaustedMessage explains why a budget allows no disruption. A
// failed sync comes first: the healthy counts are not to be trusted then.
func budgetExhaustedMessage(pdb *policyv1.PodDisruptionBudget) string {
	cond := meta.FindStatusCondition(pdb.Status.Conditions, policyv1.DisruptionAllowedCondition)
	failed := cond != nil && cond.Status == metav1.ConditionFalse && cond.Message != ""
	switch {
	case failed && cond.Reason == policyv1.SyncFailedReason:
		return fmt.Sprintf("The disruption budget %s does not allow evicting pods currently because it failed sync: %s", pdb.Name, cond.Message)
	case pdb.Status.CurrentHealthy <= pdb.Status.DesiredHealthy:
		return fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", pdb.Name, pdb.Status.DesiredHealthy, pdb.Status.CurrentHealthy)
	case failed:
		return fmt.Sprintf("The disruption budget %s does not allow evicting pods currently (%s): %s", pdb.Name, cond.Reason, cond.Message)
	default:
		return fmt.Sprintf("The disruption budget %s does not allow evicting pods currently", pdb.Name)
	}
}

// budgetsFor returns the budgets of the pod's namespace whose selector
// matches it. A budget with an invalid selector matches nothing.
func (r *EvictionREST) budgetsFor(ctx context.Context, p *corev1.Pod) ([]policyv1.PodDisruptionBudget, error) {
	list, err := r.pdbs.PodDisruptionBudgets(p.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []policyv1.PodDisruptionBudget
	for _, pdb := range list.Items {
		if pdb.Namespace != p.Namespace {
			continue
		}
		selector, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || !selector.Matches(labels.Set(p.Labels)) {
			continue
		}
		out = append(out, pdb)
	}
	return out, nil
}
