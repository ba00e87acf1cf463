// Package csrapproving is kube-controller-manager's
// certificatesigningrequest-approving-controller: it approves kubelet
// client certificate requests whose requester a SubjectAccessReview allows
// to ask for one (certificatesigningrequests/nodeclient for a first
// certificate, /selfnodeclient for a node renewing its own).
package csrapproving

import (
	"context"
	"crypto/x509"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	certinformers "k8s.io/client-go/informers/certificates/v1"
	"k8s.io/client-go/kubernetes"
	certlisters "k8s.io/client-go/listers/certificates/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-dev/skiff/controllers/csrsigning"
	csrutil "github.com/skiff-dev/skiff/controllers/internal/csr"
	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// DefaultWorkers is upstream's.
	DefaultWorkers = 5

	controllerName = "certificatesigningrequest-approving-controller"
)

// recognizer is one kind of request the approver knows, and the
// permission that lets a requester have it approved.
type recognizer struct {
	recognize  func(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) bool
	permission authorizationv1.ResourceAttributes
	message    string
}

// recognizers are tried in order: a node renewing its own certificate
// first.
var recognizers = []recognizer{
	{
		recognize:  isSelfNodeClient,
		permission: authorizationv1.ResourceAttributes{Group: "certificates.k8s.io", Resource: "certificatesigningrequests", Verb: "create", Subresource: "selfnodeclient", Version: "*"},
		message:    "Auto approving self kubelet client certificate after SubjectAccessReview.",
	},
	{
		recognize:  isNodeClient,
		permission: authorizationv1.ResourceAttributes{Group: "certificates.k8s.io", Resource: "certificatesigningrequests", Verb: "create", Subresource: "nodeclient", Version: "*"},
		message:    "Auto approving kubelet client certificate after SubjectAccessReview.",
	},
}

func isNodeClient(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) bool {
	return csr.Spec.SignerName == certificatesv1.KubeAPIServerClientKubeletSignerName && csrutil.ValidateKubeletClient(req, csr.Spec.Usages) == nil
}

func isSelfNodeClient(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) bool {
	return csr.Spec.Username == req.Subject.CommonName && isNodeClient(csr, req)
}

// Controller approves kubelet client requests.
type Controller struct {
	client kubernetes.Interface
	lister certlisters.CertificateSigningRequestLister
	synced []cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, csrs certinformers.CertificateSigningRequestInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("csr approving client: %w", err)
	}
	return New(client, csrs)
}

// New returns a Controller that reviews and approves through client.
func New(client kubernetes.Interface, csrs certinformers.CertificateSigningRequestInformer) (*Controller, error) {
	c := &Controller{client: client, lister: csrs.Lister(), queue: csrsigning.NewQueue("csrapproving")}
	h, err := csrs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("watching certificatesigningrequests: %w", err)
	}
	c.synced = []cache.InformerSynced{h.HasSynced}
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

// Run approves with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	loop := &worker.Loop{Name: controllerName, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

// Sync approves the request named key when it is an undecided kubelet
// client request and its requester may have it approved. A recognised
// request the review refuses is retried with backoff, since a binding
// granting it may yet come.
func (c *Controller) Sync(ctx context.Context, key string) error {
	cached, err := c.lister.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(cached.Status.Certificate) != 0 {
		return nil
	}
	if approved, denied := csrutil.Approval(&cached.Status); approved || denied {
		return nil
	}
	req, err := csrutil.Parse(cached.Spec.Request)
	if err != nil {
		return fmt.Errorf("unable to parse csr %q: %w", cached.Name, err)
	}
	var tried []string
	for _, r := range recognizers {
		if !r.recognize(cached, req) {
			continue
		}
		tried = append(tried, r.permission.Subresource)
		allowed, err := c.authorize(ctx, cached, r.permission)
		if err != nil {
			return err
		}
		if !allowed {
			continue
		}
		csr := cached.DeepCopy()
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type:    certificatesv1.CertificateApproved,
			Status:  corev1.ConditionTrue,
			Reason:  "AutoApproved",
			Message: r.message,
		})
		if _, err := c.client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("error updating approval for csr: %w", err)
		}
		return nil
	}
	if len(tried) != 0 {
		return fmt.Errorf("recognized csr %q as %v but subject access review was not approved", cached.Name, tried)
	}
	return nil
}

// authorize asks whether the requester of csr, as the API server recorded
// them, holds attrs.
func (c *Controller) authorize(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, attrs authorizationv1.ResourceAttributes) (bool, error) {
	extra := make(map[string]authorizationv1.ExtraValue, len(csr.Spec.Extra))
	for k, v := range csr.Spec.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               csr.Spec.Username,
		UID:                csr.Spec.UID,
		Groups:             csr.Spec.Groups,
		Extra:              extra,
		ResourceAttributes: &attrs,
	}}
	sar, err := c.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("reviewing access of %s for csr %s: %w", csr.Spec.Username, csr.Name, err)
	}
	return sar.Status.Allowed, nil
}
