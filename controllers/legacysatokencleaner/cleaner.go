// Package legacysatokencleaner is kube-controller-manager's
// legacy-serviceaccount-token-cleaner: it retires the secret-based service
// account tokens the tokens controller once made for every service account.
// A token unused for the clean-up period (a year by default), and mounted
// by no pod, is first labelled invalid (the API server then refuses it),
// and deleted once it has been invalid for another clean-up period.
package legacysatokencleaner

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/server/nodeauthz"
)

const (
	controllerName = "legacy-serviceaccount-token-cleaner"

	// DefaultCleanUpPeriod is --legacy-service-account-token-clean-up-period's
	// default.
	DefaultCleanUpPeriod = 365 * 24 * time.Hour
	// DefaultSyncInterval is how often all tokens are looked at.
	DefaultSyncInterval = 24 * time.Hour

	// LastUsedLabelKey and InvalidSinceLabelKey are the API server's marks
	// on a legacy token secret: the day it last authenticated, and the day
	// it stopped being accepted.
	LastUsedLabelKey     = "kubernetes.io/legacy-token-last-used"
	InvalidSinceLabelKey = "kubernetes.io/legacy-token-invalid-since"

	// TrackingConfigMap in kube-system records, under TrackingSinceKey, the
	// day the API server began recording LastUsedLabelKey: a token not
	// labelled used may have been used before then.
	TrackingConfigMap = "kube-apiserver-legacy-service-account-token-tracking"
	TrackingSinceKey  = "since"

	dateFormat = "2006-01-02"
)

// Options are the cleaner's periods.
type Options struct {
	// CleanUpPeriod is how long a token must go unused before it is
	// invalidated, and stay invalid before it is deleted.
	CleanUpPeriod time.Duration
	// SyncInterval is how often all tokens are looked at.
	SyncInterval time.Duration
}

// DefaultOptions are upstream's defaults.
func DefaultOptions() Options {
	return Options{CleanUpPeriod: DefaultCleanUpPeriod, SyncInterval: DefaultSyncInterval}
}

// Controller invalidates and deletes unused legacy tokens.
type Controller struct {
	client          kubernetes.Interface
	clock           clock.PassiveClock
	serviceAccounts corelisters.ServiceAccountLister
	secrets         corelisters.SecretLister
	pods            corelisters.PodLister
	synced          []cache.InformerSynced
	opts            Options
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, sas coreinformers.ServiceAccountInformer, secrets coreinformers.SecretInformer, pods coreinformers.PodInformer, opts Options) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("legacy token cleaner client: %w", err)
	}
	return New(client, sas, secrets, pods, clock.RealClock{}, opts)
}

// New returns a Controller that writes through client and tells time by clk.
func New(client kubernetes.Interface, sas coreinformers.ServiceAccountInformer, secrets coreinformers.SecretInformer, pods coreinformers.PodInformer, clk clock.PassiveClock, opts Options) (*Controller, error) {
	if opts.CleanUpPeriod <= 0 {
		return nil, fmt.Errorf("invalid CleanUpPeriod: %v", opts.CleanUpPeriod)
	}
	if opts.SyncInterval <= 0 {
		return nil, fmt.Errorf("invalid SyncInterval: %v", opts.SyncInterval)
	}
	return &Controller{
		client:          client,
		clock:           clk,
		serviceAccounts: sas.Lister(),
		secrets:         secrets.Lister(),
		pods:            pods.Lister(),
		synced:          []cache.InformerSynced{sas.Informer().HasSynced, secrets.Informer().HasSynced, pods.Informer().HasSynced},
		opts:            opts,
	}, nil
}

// Run looks at all tokens every sync interval until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	defer utilruntime.HandleCrashWithContext(ctx)
	logger := klog.FromContext(ctx)
	logger.Info("Starting", "controller", controllerName)
	defer logger.Info("Shutting down", "controller", controllerName)
	if !cache.WaitForNamedCacheSyncWithContext(ctx, c.synced...) {
		return
	}
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := c.CleanAll(ctx); err != nil {
			logger.Error(err, "Evaluating legacy service account tokens")
		}
	}, c.opts.SyncInterval)
}

// CleanAll evaluates every legacy token once.
func (c *Controller) CleanAll(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	now := c.clock.Now().UTC()
	trackedSince, err := c.trackedSince(ctx)
	if err != nil {
		return fmt.Errorf("getting the latest possible tracked-since time: %w", err)
	}
	// Until a whole period has been tracked, no token is known to be unused.
	if now.Before(trackedSince.Add(c.opts.CleanUpPeriod)) {
		return nil
	}
	keepCreatedFrom := now.Add(-c.opts.CleanUpPeriod)
	// Dates compare as strings in this format.
	keepUsedFrom := keepCreatedFrom.Format(dateFormat)

	secrets, err := c.secrets.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing cached secrets: %w", err)
	}
	mounted := map[string]sets.Set[string]{}
	for _, secret := range secrets {
		if secret.Type != corev1.SecretTypeServiceAccountToken || secret.DeletionTimestamp != nil ||
			!secret.CreationTimestamp.Time.Before(keepCreatedFrom) {
			continue
		}
		lastUsed, ok := secret.Labels[LastUsedLabelKey]
		if ok {
			if _, err := time.Parse(dateFormat, lastUsed); err != nil {
				logger.Error(err, "Parsing lastUsed time", "secret", klog.KObj(secret))
				continue
			}
			if lastUsed >= keepUsedFrom {
				continue
			}
		}
		sa, err := c.serviceAccount(secret)
		if err != nil {
			logger.Error(err, "Getting service account", "secret", klog.KObj(secret))
			continue
		}
		// Only the tokens the tokens controller made and referenced from
		// the account; one a user created stays theirs.
		if sa == nil || !referencesSecret(sa, secret.Name) {
			continue
		}
		names, err := c.mountedSecrets(secret.Namespace, mounted)
		if err != nil {
			logger.Error(err, "Resolving mounted secrets", "secret", klog.KObj(secret))
			continue
		}
		if names.Has(secret.Name) {
			continue
		}
		invalidSince := secret.Labels[InvalidSinceLabelKey]
		if _, err := time.Parse(dateFormat, invalidSince); err != nil {
			invalidSince = now.Format(dateFormat)
			logger.Info("Mark the auto-generated service account token as invalid", "invalidSince", invalidSince, "secret", klog.KObj(secret))
			if err := c.markInvalid(ctx, secret, invalidSince); err != nil {
				logger.Error(err, "Failed to label legacy service account token secret with invalid since date")
			}
			continue
		}
		if invalidSince >= keepUsedFrom {
			continue
		}
		logger.Info("Delete auto-generated service account token", "secret", klog.KObj(secret), "creationTime", secret.CreationTimestamp, "lastUsed", lastUsed, "invalidSince", invalidSince)
		err = c.client.CoreV1().Secrets(secret.Namespace).Delete(ctx, secret.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &secret.ResourceVersion}})
		if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			logger.Error(err, "Deleting legacy service account token", "secret", klog.KObj(secret), "serviceaccount", sa.Name)
		}
	}
	return nil
}

// markInvalid labels secret invalid since day; the UID in the patch keeps
// it off a secret recreated under the same name.
func (c *Controller) markInvalid(ctx context.Context, secret *corev1.Secret, day string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"uid":    secret.UID,
		"labels": map[string]string{InvalidSinceLabelKey: day},
	}})
	if err != nil {
		return err
	}
	_, err = c.client.CoreV1().Secrets(secret.Namespace).Patch(ctx, secret.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// trackedSince is the first whole day of tracking: the day after the one
// the tracking ConfigMap records.
func (c *Controller) trackedSince(ctx context.Context) (time.Time, error) {
	cm, err := c.client.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, TrackingConfigMap, metav1.GetOptions{})
	if err != nil {
		return time.Time{}, err
	}
	since, ok := cm.Data[TrackingSinceKey]
	if !ok {
		return time.Time{}, fmt.Errorf("configMap does not have since label")
	}
	t, err := time.Parse(dateFormat, since)
	if err != nil {
		return time.Time{}, fmt.Errorf("error parsing trackedSince time: %w", err)
	}
	return t.AddDate(0, 0, 1), nil
}

// serviceAccount is the account a token secret belongs to, or nil when it
// is gone or is another account of the same name.
func (c *Controller) serviceAccount(secret *corev1.Secret) (*corev1.ServiceAccount, error) {
	name := secret.Annotations[corev1.ServiceAccountNameKey]
	if name == "" {
		return nil, nil
	}
	sa, err := c.serviceAccounts.ServiceAccounts(secret.Namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if uid := types.UID(secret.Annotations[corev1.ServiceAccountUIDKey]); uid != "" && uid != sa.UID {
		return nil, nil
	}
	return sa, nil
}

// mountedSecrets are the secrets the pods of namespace use, memoised in
// seen for one pass.
func (c *Controller) mountedSecrets(namespace string, seen map[string]sets.Set[string]) (sets.Set[string], error) {
	if names, ok := seen[namespace]; ok {
		return names, nil
	}
	pods, err := c.pods.Pods(namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("failed to get pod list from pod cache: %w", err)
	}
	names := sets.New[string]()
	for _, pod := range pods {
		nodeauthz.VisitPodSecretNames(pod, func(name string) bool {
			names.Insert(name)
			return true
		})
	}
	seen[namespace] = names
	return names, nil
}

func referencesSecret(sa *corev1.ServiceAccount, name string) bool {
	for _, ref := range sa.Secrets {
		if ref.Name == name {
			return true
		}
	}
	return false
}
