// Package csrcleaner is kube-controller-manager's
// certificatesigningrequest-cleaner-controller: once an hour it deletes
// CertificateSigningRequests that are done with or were never acted on.
package csrcleaner

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	certinformers "k8s.io/client-go/informers/certificates/v1"
	"k8s.io/client-go/kubernetes"
	certlisters "k8s.io/client-go/listers/certificates/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

const (
	controllerName = "certificatesigningrequest-cleaner-controller"

	// PollingInterval is how often all requests are looked at.
	PollingInterval = time.Hour
	// ApprovedExpiration is how long an issued request stays after approval.
	ApprovedExpiration = time.Hour
	// DeniedExpiration is how long a denied or failed request stays.
	DeniedExpiration = time.Hour
	// PendingExpiration is how long a request stays undecided, or approved
	// but never issued.
	PendingExpiration = 24 * time.Hour
)

// Controller deletes stale requests.
type Controller struct {
	client kubernetes.Interface
	lister certlisters.CertificateSigningRequestLister
	synced cache.InformerSynced
	clock  clock.PassiveClock
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, csrs certinformers.CertificateSigningRequestInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("csr cleaner client: %w", err)
	}
	return New(client, csrs, clock.RealClock{}), nil
}

// New returns a Controller that deletes through client, telling time by clk.
func New(client kubernetes.Interface, csrs certinformers.CertificateSigningRequestInformer, clk clock.PassiveClock) *Controller {
	return &Controller{client: client, lister: csrs.Lister(), synced: csrs.Informer().HasSynced, clock: clk}
}

// Run cleans every PollingInterval until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	defer utilruntime.HandleCrashWithContext(ctx)
	logger := klog.FromContext(ctx)
	logger.Info("Starting", "controller", controllerName)
	defer logger.Info("Shutting down", "controller", controllerName)
	if !cache.WaitForNamedCacheSyncWithContext(ctx, c.synced) {
		return
	}
	wait.UntilWithContext(ctx, c.CleanAll, PollingInterval)
}

// CleanAll looks at every request once.
func (c *Controller) CleanAll(ctx context.Context) {
	logger := klog.FromContext(ctx)
	csrs, err := c.lister.List(labels.Everything())
	if err != nil {
		logger.Error(err, "Unable to list CSRs")
		return
	}
	for _, csr := range csrs {
		if err := c.clean(ctx, csr); err != nil {
			logger.Error(err, "Error while attempting to clean CSR", "csr", csr.Name)
		}
	}
}

func (c *Controller) clean(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) error {
	reason := c.staleReason(csr)
	if reason == "" {
		return nil
	}
	klog.FromContext(ctx).Info(reason, "csr", csr.Name)
	err := c.client.CertificatesV1().CertificateSigningRequests().Delete(ctx, csr.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &csr.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("unable to delete CSR %q: %w", csr.Name, err)
	}
	return nil
}

// staleReason says why csr is to go, in upstream's log words, or "" if it
// stays. The rules are upstream's, in upstream's order.
func (c *Controller) staleReason(csr *certificatesv1.CertificateSigningRequest) string {
	issued := len(csr.Status.Certificate) > 0
	for _, cond := range csr.Status.Conditions {
		if issued && cond.Type == certificatesv1.CertificateApproved && c.olderThan(cond.LastUpdateTime, ApprovedExpiration) {
			return "Cleaning CSR as it is more than approvedExpiration duration old and approved."
		}
	}
	for _, cond := range csr.Status.Conditions {
		if cond.Type == certificatesv1.CertificateDenied && c.olderThan(cond.LastUpdateTime, DeniedExpiration) {
			return "Cleaning CSR as it is more than deniedExpiration duration old and denied."
		}
	}
	for _, cond := range csr.Status.Conditions {
		if cond.Type == certificatesv1.CertificateFailed && c.olderThan(cond.LastUpdateTime, DeniedExpiration) {
			return "Cleaning CSR as it is more than deniedExpiration duration old and failed."
		}
	}
	if len(csr.Status.Conditions) == 0 && c.olderThan(csr.CreationTimestamp, PendingExpiration) {
		return "Cleaning CSR as it is more than pendingExpiration duration old and unhandled."
	}
	for _, cond := range csr.Status.Conditions {
		if issued && cond.Type == certificatesv1.CertificateApproved && c.expired(csr) {
			return "Cleaning CSR as the associated certificate is expired."
		}
	}
	for _, cond := range csr.Status.Conditions {
		if !issued && cond.Type == certificatesv1.CertificateApproved && c.olderThan(cond.LastUpdateTime, PendingExpiration) {
			return "Cleaning CSR as it is approved but unissued for more than pendingExpiration duration."
		}
	}
	return ""
}

func (c *Controller) olderThan(t metav1.Time, d time.Duration) bool {
	return !t.IsZero() && c.clock.Since(t.Time) > d
}

func (c *Controller) expired(csr *certificatesv1.CertificateSigningRequest) bool {
	block, _ := pem.Decode(csr.Status.Certificate)
	if block == nil {
		return false
	}
	certs, err := x509.ParseCertificates(block.Bytes)
	if err != nil || len(certs) == 0 {
		return false
	}
	return c.clock.Now().After(certs[0].NotAfter)
}
