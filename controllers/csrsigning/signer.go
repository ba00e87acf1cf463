// Package csrsigning is kube-controller-manager's
// certificatesigningrequest-signing-controller: it signs approved
// CertificateSigningRequests addressed to Kubernetes' own signers with the
// cluster CA, after checking each request against its signer's rules.
package csrsigning

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"golang.org/x/time/rate"
	certificatesv1 "k8s.io/api/certificates/v1"
	certificatesv1beta1 "k8s.io/api/certificates/v1beta1"
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

	csrutil "github.com/skiff-dev/skiff/controllers/internal/csr"
	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// DefaultWorkers is upstream's five per signer.
	DefaultWorkers = 5
	// DefaultDuration is --cluster-signing-duration's default: a year.
	DefaultDuration = 365 * 24 * time.Hour

	controllerName = "certificatesigningrequest-signing-controller"

	// backdate covers clocks behind the signer's; it must stay under the
	// shortest lifetime a request may ask for.
	backdate = 5 * time.Minute
	// short is the lifetime under which the end is not backdated too:
	// five minutes are about 1% of it.
	short = 8 * time.Hour
	// minDuration is the least spec.expirationSeconds honoured, twice the
	// backdating.
	minDuration = 10 * time.Minute
)

// Signers are the signer names this controller signs for.
var Signers = []string{
	certificatesv1.KubeAPIServerClientSignerName,
	certificatesv1.KubeAPIServerClientKubeletSignerName,
	certificatesv1.KubeletServingSignerName,
	certificatesv1beta1.LegacyUnknownSignerName,
}

// Controller signs approved requests.
type Controller struct {
	client   kubernetes.Interface
	lister   certlisters.CertificateSigningRequestLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	caCert   *x509.Certificate
	caKey    crypto.Signer
	duration time.Duration
	now      func() time.Time
}

// NewForConfig builds a Controller on its own client from config, signing
// with caCert and caKey certificates of at most duration.
func NewForConfig(config *rest.Config, csrs certinformers.CertificateSigningRequestInformer, caCert *x509.Certificate, caKey crypto.Signer, duration time.Duration) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("csr signing client: %w", err)
	}
	return New(client, csrs, caCert, caKey, duration)
}

// New returns a Controller that writes through client.
func New(client kubernetes.Interface, csrs certinformers.CertificateSigningRequestInformer, caCert *x509.Certificate, caKey crypto.Signer, duration time.Duration) (*Controller, error) {
	if caCert == nil || caKey == nil {
		return nil, errors.New("csr signing: no CA certificate and key")
	}
	if duration <= 0 {
		return nil, fmt.Errorf("csr signing: invalid signing duration %v", duration)
	}
	c := &Controller{
		client:   client,
		lister:   csrs.Lister(),
		queue:    NewQueue("certificate"),
		caCert:   caCert,
		caKey:    caKey,
		duration: duration,
		now:      time.Now,
	}
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

// NewQueue is the queue of upstream's certificate controllers: per-item
// backoff from 200ms to 1000s, and 10 retries a second overall.
func NewQueue(name string) workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedMaxOfRateLimiter[string](
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 1000*time.Second),
			&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
		),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name})
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

// Run signs with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	loop := &worker.Loop{Name: controllerName, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

// Sync signs the request named key if it is approved, not failed, not yet
// signed and addressed to one of Signers; a request its signer's rules
// refuse gets a Failed condition instead.
func (c *Controller) Sync(ctx context.Context, key string) error {
	cached, err := c.lister.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(cached.Status.Certificate) > 0 || !csrutil.IsApproved(cached) || csrutil.HasTrueCondition(cached, certificatesv1.CertificateFailed) {
		return nil
	}
	if !slices.Contains(Signers, cached.Spec.SignerName) {
		return nil
	}
	req, err := csrutil.Parse(cached.Spec.Request)
	if err != nil {
		return fmt.Errorf("unable to parse csr %q: %w", cached.Name, err)
	}
	csr := cached.DeepCopy()
	if err := validate(req, csr.Spec.Usages, csr.Spec.SignerName); err != nil {
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type:           certificatesv1.CertificateFailed,
			Status:         corev1.ConditionTrue,
			Reason:         "SignerValidationFailure",
			Message:        err.Error(),
			LastUpdateTime: metav1.NewTime(c.now()),
		})
		if _, err := c.client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("error adding failure condition for csr: %w", err)
		}
		return nil
	}
	cert, err := c.sign(req, csr.Spec.Usages, csr.Spec.ExpirationSeconds)
	if err != nil {
		return fmt.Errorf("error auto signing csr: %w", err)
	}
	csr.Status.Certificate = cert
	if _, err := c.client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("error updating signature for csr: %w", err)
	}
	return nil
}

// validate applies the rules of the signer a request names.
func validate(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage, signerName string) error {
	switch signerName {
	case certificatesv1.KubeletServingSignerName:
		return csrutil.ValidateKubeletServing(req, usages)
	case certificatesv1.KubeAPIServerClientKubeletSignerName:
		return csrutil.ValidateKubeletClient(req, usages)
	case certificatesv1.KubeAPIServerClientSignerName:
		return validateAPIServerClientUsages(usages)
	}
	// legacy-unknown keeps v1beta1's anything-goes for compatibility.
	return nil
}

func validateAPIServerClientUsages(usages []certificatesv1.KeyUsage) error {
	hasClientAuth := false
	for _, u := range usages {
		switch u {
		case certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment:
		case certificatesv1.UsageClientAuth:
			hasClientAuth = true
		default:
			return fmt.Errorf("invalid usage for client certificate: %s", u)
		}
	}
	if !hasClientAuth {
		return fmt.Errorf("missing required usage for client certificate: %s", certificatesv1.UsageClientAuth)
	}
	return nil
}

// lifetime is the certificate's validity: the requested one within
// [minDuration, the signing duration], else the signing duration.
func (c *Controller) lifetime(expirationSeconds *int32) time.Duration {
	if expirationSeconds == nil {
		return c.duration
	}
	requested := time.Duration(*expirationSeconds) * time.Second
	switch {
	case requested > c.duration:
		return c.duration
	case requested < minDuration:
		return minDuration
	default:
		return requested
	}
}

var serialLimit = new(big.Int).Lsh(big.NewInt(1), 128)

// sign issues the certificate PEM for req: its subject and names, the
// usages of the CSR and nothing else the request asked for.
func (c *Controller) sign(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage, expirationSeconds *int32) ([]byte, error) {
	if err := req.CheckSignature(); err != nil {
		return nil, fmt.Errorf("unable to verify certificate request signature: %w", err)
	}
	keyUsage, extKeyUsage, err := keyUsages(usages)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, serialLimit)
	if err != nil {
		return nil, fmt.Errorf("unable to generate a serial number for %s: %w", req.Subject.CommonName, err)
	}
	now := c.now()
	ttl := c.lifetime(expirationSeconds)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               req.Subject,
		DNSNames:              req.DNSNames,
		IPAddresses:           req.IPAddresses,
		EmailAddresses:        req.EmailAddresses,
		URIs:                  req.URIs,
		PublicKeyAlgorithm:    req.PublicKeyAlgorithm,
		PublicKey:             req.PublicKey,
		KeyUsage:              keyUsage,
		ExtKeyUsage:           extKeyUsage,
		BasicConstraintsValid: true,
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(ttl - backdate),
	}
	if ttl < short {
		tmpl.NotAfter = now.Add(ttl)
	}
	signerNotAfter := c.caCert.NotAfter
	if !tmpl.NotAfter.Before(signerNotAfter) {
		tmpl.NotAfter = signerNotAfter
	}
	if !tmpl.NotBefore.Before(signerNotAfter) {
		return nil, fmt.Errorf("the signer has expired: NotAfter=%v", signerNotAfter)
	}
	if !now.Before(signerNotAfter) {
		return nil, fmt.Errorf("refusing to sign a certificate that expired in the past: NotAfter=%v", signerNotAfter)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.caCert, req.PublicKey, c.caKey)
	if err != nil {
		return nil, fmt.Errorf("failed to sign certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

var keyUsageBits = map[certificatesv1.KeyUsage]x509.KeyUsage{
	certificatesv1.UsageSigning:           x509.KeyUsageDigitalSignature,
	certificatesv1.UsageDigitalSignature:  x509.KeyUsageDigitalSignature,
	certificatesv1.UsageContentCommitment: x509.KeyUsageContentCommitment,
	certificatesv1.UsageKeyEncipherment:   x509.KeyUsageKeyEncipherment,
	certificatesv1.UsageKeyAgreement:      x509.KeyUsageKeyAgreement,
	certificatesv1.UsageDataEncipherment:  x509.KeyUsageDataEncipherment,
	certificatesv1.UsageCertSign:          x509.KeyUsageCertSign,
	certificatesv1.UsageCRLSign:           x509.KeyUsageCRLSign,
	certificatesv1.UsageEncipherOnly:      x509.KeyUsageEncipherOnly,
	certificatesv1.UsageDecipherOnly:      x509.KeyUsageDecipherOnly,
}

var extKeyUsages = map[certificatesv1.KeyUsage]x509.ExtKeyUsage{
	certificatesv1.UsageAny:             x509.ExtKeyUsageAny,
	certificatesv1.UsageServerAuth:      x509.ExtKeyUsageServerAuth,
	certificatesv1.UsageClientAuth:      x509.ExtKeyUsageClientAuth,
	certificatesv1.UsageCodeSigning:     x509.ExtKeyUsageCodeSigning,
	certificatesv1.UsageEmailProtection: x509.ExtKeyUsageEmailProtection,
	certificatesv1.UsageSMIME:           x509.ExtKeyUsageEmailProtection,
	certificatesv1.UsageIPsecEndSystem:  x509.ExtKeyUsageIPSECEndSystem,
	certificatesv1.UsageIPsecTunnel:     x509.ExtKeyUsageIPSECTunnel,
	certificatesv1.UsageIPsecUser:       x509.ExtKeyUsageIPSECUser,
	certificatesv1.UsageTimestamping:    x509.ExtKeyUsageTimeStamping,
	certificatesv1.UsageOCSPSigning:     x509.ExtKeyUsageOCSPSigning,
	certificatesv1.UsageMicrosoftSGC:    x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	certificatesv1.UsageNetscapeSGC:     x509.ExtKeyUsageNetscapeServerGatedCrypto,
}

// keyUsages maps CSR usages to the certificate's key usage bits and sorted,
// distinct extended key usages.
func keyUsages(usages []certificatesv1.KeyUsage) (x509.KeyUsage, []x509.ExtKeyUsage, error) {
	var bits x509.KeyUsage
	var ext []x509.ExtKeyUsage
	var unrecognized []certificatesv1.KeyUsage
	for _, u := range usages {
		if b, ok := keyUsageBits[u]; ok {
			bits |= b
		} else if e, ok := extKeyUsages[u]; ok {
			ext = append(ext, e)
		} else {
			unrecognized = append(unrecognized, u)
		}
	}
	if len(unrecognized) > 0 {
		return 0, nil, fmt.Errorf("unrecognized usage values: %q", unrecognized)
	}
	slices.Sort(ext)
	return bits, slices.Compact(ext), nil
}
