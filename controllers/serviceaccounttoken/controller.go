// Package serviceaccounttoken is Kubernetes' tokens controller: a Secret of
// type kubernetes.io/service-account-token that names a ServiceAccount in its
// annotations gets a token for it, the cluster CA and the namespace; the
// Secret is deleted when its ServiceAccount goes, and a ServiceAccount stops
// listing a token Secret that was deleted.
package serviceaccounttoken

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	apiserverserviceaccount "k8s.io/apiserver/pkg/authentication/serviceaccount"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
	"github.com/skiff-dev/skiff/internal/useragent"
)

const (
	// DefaultWorkers is kube-controller-manager's --concurrent-serviceaccount-token-syncs.
	DefaultWorkers = 5
	// maxRetries is how often upstream retries one key before dropping it.
	maxRetries = 10
)

// removeTokenBackoff paces retries of removing a deleted secret from its
// service account's list, as upstream's RemoveTokenBackoff.
var removeTokenBackoff = wait.Backoff{Steps: 10, Duration: 100 * time.Millisecond, Jitter: 1.0}

// TokenGenerator signs the token of a secret-based credential.
type TokenGenerator interface {
	GenerateLegacyToken(sa *corev1.ServiceAccount, secret *corev1.Secret) (string, error)
}

// Controller populates and cleans up service account token secrets.
type Controller struct {
	client   kubernetes.Interface
	tokens   TokenGenerator
	rootCA   []byte
	accounts corelisters.ServiceAccountLister
	secrets  corelisters.SecretLister
	synced   []cache.InformerSynced
	saQueue  workqueue.TypedRateLimitingInterface[string]
	secQueue workqueue.TypedRateLimitingInterface[string]
}

// NewForConfig builds a Controller on its own client from config, named as
// kube-controller-manager names this controller's client.
func NewForConfig(config *rest.Config, accounts coreinformers.ServiceAccountInformer, secrets coreinformers.SecretInformer, tokens TokenGenerator, rootCA []byte) (*Controller, error) {
	client, err := kubernetes.NewForConfig(useragent.Default(config, "tokens-controller"))
	if err != nil {
		return nil, fmt.Errorf("tokens controller client: %w", err)
	}
	return New(client, accounts, secrets, tokens, rootCA), nil
}

// New returns a controller that writes token secrets through client; rootCA
// is the ca.crt every token secret carries.
func New(client kubernetes.Interface, accounts coreinformers.ServiceAccountInformer, secrets coreinformers.SecretInformer, tokens TokenGenerator, rootCA []byte) *Controller {
	c := &Controller{
		client:   client,
		tokens:   tokens,
		rootCA:   rootCA,
		accounts: accounts.Lister(),
		secrets:  secrets.Lister(),
		saQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "serviceaccount_tokens_service"}),
		secQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "serviceaccount_tokens_secret"}),
	}
	saHandler, err := accounts.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueAccount,
		UpdateFunc: func(_, obj any) { c.enqueueAccount(obj) },
		DeleteFunc: c.enqueueAccount,
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching serviceaccounts for the tokens controller: %w", err))
	}
	secretHandler, err := secrets.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			s, ok := obj.(*corev1.Secret)
			return ok && s.Type == corev1.SecretTypeServiceAccountToken
		},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueueSecret,
			UpdateFunc: func(_, obj any) { c.enqueueSecret(obj) },
			DeleteFunc: c.enqueueSecret,
		},
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching secrets for the tokens controller: %w", err))
	}
	for _, h := range []cache.ResourceEventHandlerRegistration{saHandler, secretHandler} {
		if h != nil {
			c.synced = append(c.synced, h.HasSynced)
		}
	}
	return c
}

// Keys carry the UIDs seen in the event, so a sync acts on that incarnation
// of an object and not on one recreated under the same name.
func accountKey(sa *corev1.ServiceAccount) string {
	return strings.Join([]string{sa.Namespace, sa.Name, string(sa.UID)}, "/")
}

func secretKey(s *corev1.Secret) string {
	return strings.Join([]string{s.Namespace, s.Name, string(s.UID),
		s.Annotations[corev1.ServiceAccountNameKey], s.Annotations[corev1.ServiceAccountUIDKey]}, "/")
}

func (c *Controller) enqueueAccount(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	if sa, ok := obj.(*corev1.ServiceAccount); ok {
		c.saQueue.Add(accountKey(sa))
	}
}

func (c *Controller) enqueueSecret(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	if s, ok := obj.(*corev1.Secret); ok {
		c.secQueue.Add(secretKey(s))
	}
}

// Run reconciles with workers goroutines per queue until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	accounts := &worker.Loop{Name: "serviceaccount-tokens-controller", Queue: c.saQueue, Sync: c.SyncServiceAccount, Synced: c.synced, MaxRetries: maxRetries}
	secrets := &worker.Loop{Name: "serviceaccount-token-secrets-controller", Queue: c.secQueue, Sync: c.SyncSecret, Synced: c.synced, MaxRetries: maxRetries}
	go accounts.Run(ctx, workers)
	secrets.Run(ctx, workers)
}

// SyncServiceAccount deletes the token secrets of a service account that is
// gone; key is namespace/name/uid.
func (c *Controller) SyncServiceAccount(ctx context.Context, key string) error {
	parts := strings.Split(key, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		klog.FromContext(ctx).Error(nil, "Invalid serviceaccount key", "key", key)
		return nil
	}
	ns, name, uid := parts[0], parts[1], types.UID(parts[2])
	sa, err := c.getServiceAccount(ctx, ns, name, uid, false)
	if err != nil || sa != nil {
		return err
	}
	klog.FromContext(ctx).V(4).Info("Service account deleted, removing tokens", "namespace", ns, "serviceaccount", name)
	gone := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: uid}}
	secrets, err := c.secrets.Secrets(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range secrets {
		if apiserverserviceaccount.IsServiceAccountToken(s, gone) {
			if err := c.deleteToken(ctx, s.Namespace, s.Name, s.UID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return utilerrors.NewAggregate(errs)
}

// SyncSecret fills, deletes or unlists one token secret; key is
// namespace/name/uid/serviceaccount-name/serviceaccount-uid.
func (c *Controller) SyncSecret(ctx context.Context, key string) error {
	parts := strings.Split(key, "/")
	if len(parts) != 5 || parts[0] == "" || parts[1] == "" || parts[2] == "" || parts[3] == "" {
		// Not naming a service account: nothing this controller can do.
		return nil
	}
	ns, name, uid, saName, saUID := parts[0], parts[1], types.UID(parts[2]), parts[3], types.UID(parts[4])
	secret, err := c.secrets.Secrets(ns).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		secret = nil
	case err != nil:
		return err
	case secret.UID != uid:
		secret = nil
	}
	if secret == nil {
		// The secret is gone: its service account should no longer list it.
		if sa, err := c.getServiceAccount(ctx, ns, saName, saUID, false); err == nil && sa != nil {
			if err := retry.RetryOnConflict(removeTokenBackoff, func() error {
				return c.removeSecretReference(ctx, ns, saName, saUID, name)
			}); err != nil {
				klog.FromContext(ctx).Error(err, "Removing secret reference", "secret", klog.KRef(ns, name))
			}
		}
		return nil
	}
	sa, err := c.getServiceAccount(ctx, ns, saName, saUID, true)
	if err != nil {
		return err
	}
	if sa == nil {
		klog.FromContext(ctx).V(4).Info("Service account does not exist, deleting token", "secret", klog.KRef(ns, name))
		return c.deleteToken(ctx, ns, name, uid)
	}
	return c.populate(ctx, sa, secret)
}

func (c *Controller) deleteToken(ctx context.Context, ns, name string, uid types.UID) error {
	var opts metav1.DeleteOptions
	if uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	err := c.client.CoreV1().Secrets(ns).Delete(ctx, name, opts)
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return fmt.Errorf("deleting token secret %s/%s: %w", ns, name, err)
}

// missing reports which of ca.crt, namespace and token the secret lacks.
func (c *Controller) missing(s *corev1.Secret) (ca, namespace, token bool) {
	ca = len(c.rootCA) > 0 && !bytes.Equal(s.Data[corev1.ServiceAccountRootCAKey], c.rootCA)
	namespace = len(s.Data[corev1.ServiceAccountNamespaceKey]) == 0
	token = len(s.Data[corev1.ServiceAccountTokenKey]) == 0
	return ca, namespace, token
}

// populate fills the secret's missing keys, working on the live object so
// a token is never written twice from a stale cache.
func (c *Controller) populate(ctx context.Context, sa *corev1.ServiceAccount, cached *corev1.Secret) error {
	if ca, ns, tok := c.missing(cached); !ca && !ns && !tok {
		return nil
	}
	secrets := c.client.CoreV1().Secrets(cached.Namespace)
	live, err := secrets.Get(ctx, cached.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading secret %s/%s: %w", cached.Namespace, cached.Name, err)
	}
	if live.ResourceVersion != cached.ResourceVersion {
		// The newer version is on its way through the informer.
		return nil
	}
	needsCA, needsNamespace, needsToken := c.missing(live)
	if live.Annotations == nil {
		live.Annotations = map[string]string{}
	}
	if live.Data == nil {
		live.Data = map[string][]byte{}
	}
	if needsCA {
		live.Data[corev1.ServiceAccountRootCAKey] = c.rootCA
	}
	if needsNamespace {
		live.Data[corev1.ServiceAccountNamespaceKey] = []byte(live.Namespace)
	}
	if needsToken {
		token, err := c.tokens.GenerateLegacyToken(sa, live)
		if err != nil {
			return fmt.Errorf("generating token for secret %s/%s: %w", live.Namespace, live.Name, err)
		}
		live.Data[corev1.ServiceAccountTokenKey] = []byte(token)
	}
	live.Annotations[corev1.ServiceAccountNameKey] = sa.Name
	live.Annotations[corev1.ServiceAccountUIDKey] = string(sa.UID)
	_, err = secrets.Update(ctx, live, metav1.UpdateOptions{})
	if err == nil || apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil
	}
	return fmt.Errorf("populating token secret %s/%s: %w", live.Namespace, live.Name, err)
}

func (c *Controller) removeSecretReference(ctx context.Context, ns, saName string, saUID types.UID, secretName string) error {
	accounts := c.client.CoreV1().ServiceAccounts(ns)
	sa, err := accounts.Get(ctx, saName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if saUID != "" && saUID != sa.UID {
		return nil
	}
	var kept []corev1.ObjectReference
	found := false
	for _, ref := range sa.Secrets {
		if ref.Name == secretName {
			found = true
			continue
		}
		kept = append(kept, ref)
	}
	if !found {
		return nil
	}
	sa.Secrets = kept
	_, err = accounts.Update(ctx, sa, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// getServiceAccount is the service account ns/name with the given UID (any,
// if empty) from the cache, or, if fetchOnMiss, from the API; nil if none.
func (c *Controller) getServiceAccount(ctx context.Context, ns, name string, uid types.UID, fetchOnMiss bool) (*corev1.ServiceAccount, error) {
	sa, err := c.accounts.ServiceAccounts(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, err
	}
	if err == nil && (uid == "" || uid == sa.UID) {
		return sa, nil
	}
	if !fetchOnMiss {
		return nil, nil
	}
	sa, err = c.client.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if uid == "" || uid == sa.UID {
		return sa, nil
	}
	return nil, nil
}
