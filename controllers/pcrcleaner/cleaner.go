// Package pcrcleaner is kube-controller-manager's
// podcertificaterequest-cleaner-controller: PodCertificateRequests are
// short-lived by design, so it deletes each once it is older than any
// issuance should take.
package pcrcleaner

import (
	"context"
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
	controllerName = "podcertificaterequest-cleaner-controller"

	// DefaultThreshold is the age past which a request goes: every
	// PodCertificateRequest flow is expected to finish well within it.
	DefaultThreshold = 15 * time.Minute
	// DefaultPollingInterval is how often all requests are looked at.
	DefaultPollingInterval = 5 * time.Minute
)

// Controller deletes old PodCertificateRequests.
type Controller struct {
	client    kubernetes.Interface
	lister    certlisters.PodCertificateRequestLister
	synced    cache.InformerSynced
	clock     clock.PassiveClock
	threshold time.Duration
	interval  time.Duration
}

// NewForConfig builds a Controller on its own client from config with
// upstream's threshold and interval.
func NewForConfig(config *rest.Config, pcrs certinformers.PodCertificateRequestInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("pod certificate request cleaner client: %w", err)
	}
	return New(client, pcrs, clock.RealClock{}, DefaultThreshold, DefaultPollingInterval), nil
}

// New returns a Controller that deletes through client.
func New(client kubernetes.Interface, pcrs certinformers.PodCertificateRequestInformer, clk clock.PassiveClock, threshold, interval time.Duration) *Controller {
	return &Controller{client: client, lister: pcrs.Lister(), synced: pcrs.Informer().HasSynced, clock: clk, threshold: threshold, interval: interval}
}

// Run cleans every interval until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	defer utilruntime.HandleCrashWithContext(ctx)
	logger := klog.FromContext(ctx)
	logger.Info("Starting", "controller", controllerName)
	defer logger.Info("Shutting down", "controller", controllerName)
	if !cache.WaitForNamedCacheSyncWithContext(ctx, c.synced) {
		return
	}
	wait.UntilWithContext(ctx, c.CleanAll, c.interval)
}

// CleanAll looks at every request once.
func (c *Controller) CleanAll(ctx context.Context) {
	pcrs, err := c.lister.List(labels.Everything())
	if err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "Unable to list PodCertificateRequests")
		return
	}
	for _, pcr := range pcrs {
		if err := c.clean(ctx, pcr); err != nil {
			utilruntime.HandleErrorWithContext(ctx, err, "Error while attempting to clean PodCertificateRequest", "pcr", pcr.Namespace+"/"+pcr.Name)
		}
	}
}

func (c *Controller) clean(ctx context.Context, pcr *certificatesv1.PodCertificateRequest) error {
	if c.clock.Now().Before(pcr.CreationTimestamp.Add(c.threshold)) {
		return nil
	}
	err := c.client.CertificatesV1().PodCertificateRequests(pcr.Namespace).Delete(ctx, pcr.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pcr.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("unable to delete PodCertificateRequest %q: %w", pcr.Namespace+"/"+pcr.Name, err)
	}
	return nil
}
