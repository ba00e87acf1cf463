// Package admissionpolicystatus is Kubernetes'
// validatingadmissionpolicy-status controller: it type-checks the CEL
// expressions of every ValidatingAdmissionPolicy against the schemas of the
// kinds the policy matches and publishes the warnings in
// status.typeChecking, with the generation it checked.
package admissionpolicystatus

import (
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apiextensionsscheme "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/scheme"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	validatingpolicy "k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/cel/openapi/resolver"
	admissionapply "k8s.io/client-go/applyconfigurations/admissionregistration/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	admissioninformers "k8s.io/client-go/informers/admissionregistration/v1"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	admissionclient "k8s.io/client-go/kubernetes/typed/admissionregistration/v1"
	admissionlisters "k8s.io/client-go/listers/admissionregistration/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-dev/skiff/apis/openapi"
	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// Name is the controller's name and service account.
	Name = "validatingadmissionpolicy-status-controller"
	// DefaultWorkers is kube-controller-manager's
	// ValidatingAdmissionPolicyStatusController.ConcurrentPolicySyncs.
	DefaultWorkers = 5
	// fieldManager owns the status fields the controller applies,
	// upstream's ControllerName.
	fieldManager = "validatingadmissionpolicy-status"
)

// Controller publishes the type checking of policies.
type Controller struct {
	policies admissionlisters.ValidatingAdmissionPolicyLister
	client   admissionclient.ValidatingAdmissionPolicyInterface
	checker  *validatingpolicy.TypeChecker
	queue    workqueue.TypedRateLimitingInterface[string]
	synced   []cache.InformerSynced
}

// NewForConfig builds a Controller on its own client from config. Schemas
// come from the built-in OpenAPI definitions first and from the server's
// OpenAPI for the rest (custom resources), as upstream's.
func NewForConfig(config *rest.Config, policies admissioninformers.ValidatingAdmissionPolicyInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("validatingadmissionpolicy status controller client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("validatingadmissionpolicy status controller discovery client: %w", err)
	}
	checker := &validatingpolicy.TypeChecker{
		SchemaResolver: resolver.NewDefinitionsSchemaResolver(openapi.GetOpenAPIDefinitions, clientgoscheme.Scheme, apiextensionsscheme.Scheme).Combine(&resolver.ClientDiscoveryResolver{Discovery: disc}),
		RestMapper:     restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)),
	}
	return New(client.AdmissionregistrationV1().ValidatingAdmissionPolicies(), checker, policies)
}

// New returns a controller that checks with checker and writes through
// client.
func New(client admissionclient.ValidatingAdmissionPolicyInterface, checker *validatingpolicy.TypeChecker,
	policies admissioninformers.ValidatingAdmissionPolicyInformer) (*Controller, error) {
	c := &Controller{
		policies: policies.Lister(),
		client:   client,
		checker:  checker,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: fieldManager}),
	}
	reg, err := policies.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("watching policies for the validatingadmissionpolicy status controller: %w", err)
	}
	c.synced = []cache.InformerSynced{reg.HasSynced}
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	if p, ok := obj.(*admissionregistrationv1.ValidatingAdmissionPolicy); ok && p.Name != "" {
		c.queue.Add(p.Name)
	}
}

// Run checks policies with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	loop := &worker.Loop{Name: Name, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

// Sync type-checks the policy named key unless its current generation is
// checked already.
func (c *Controller) Sync(ctx context.Context, key string) error {
	policy, err := c.policies.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if policy.Generation <= policy.Status.ObservedGeneration {
		return nil
	}
	warnings := c.checker.Check(policy)
	applied := make([]*admissionapply.ExpressionWarningApplyConfiguration, 0, len(warnings))
	for _, w := range warnings {
		applied = append(applied, admissionapply.ExpressionWarning().WithFieldRef(w.FieldRef).WithWarning(w.Warning))
	}
	status := admissionapply.ValidatingAdmissionPolicy(policy.Name).WithStatus(admissionapply.ValidatingAdmissionPolicyStatus().
		WithObservedGeneration(policy.Generation).
		WithTypeChecking(admissionapply.TypeChecking().WithExpressionWarnings(applied...)))
	if _, err := c.client.ApplyStatus(ctx, status, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return fmt.Errorf("publishing the type checking of policy %s: %w", policy.Name, err)
	}
	return nil
}

// compile-time check that the deferred mapper can be reset when the
// checker meets a kind it does not know yet.
var _ meta.ResettableRESTMapper = (*restmapper.DeferredDiscoveryRESTMapper)(nil)
