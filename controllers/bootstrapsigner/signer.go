// Package bootstrapsigner is kube-controller-manager's bootstrap-signer
// controller: it signs the kubeconfig in kube-public/cluster-info with
// every bootstrap token usable for signing, so that a joining node holding
// a token can tell the cluster-info it reads anonymously is genuine.
package bootstrapsigner

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstrapsecret "k8s.io/cluster-bootstrap/util/secrets"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	controllerName = "bootstrap-signer"
	// queueKey is the one key: every change leads to re-signing the one
	// ConfigMap.
	queueKey = "signer"
)

// Controller keeps the JWS signatures of cluster-info.
type Controller struct {
	client     kubernetes.Interface
	configMaps corelisters.ConfigMapNamespaceLister
	secrets    corelisters.SecretNamespaceLister
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
	now        func() time.Time
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, secrets coreinformers.SecretInformer, configMaps coreinformers.ConfigMapInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("bootstrap signer client: %w", err)
	}
	return New(client, secrets, configMaps)
}

// New returns a Controller that updates cluster-info through client.
func New(client kubernetes.Interface, secrets coreinformers.SecretInformer, configMaps coreinformers.ConfigMapInformer) (*Controller, error) {
	c := &Controller{
		client:     client,
		configMaps: configMaps.Lister().ConfigMaps(metav1.NamespacePublic),
		secrets:    secrets.Lister().Secrets(metav1.NamespaceSystem),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "bootstrap_signer_queue"}),
		now: time.Now,
	}
	enqueue := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.queue.Add(queueKey) },
		UpdateFunc: func(any, any) { c.queue.Add(queueKey) },
		DeleteFunc: func(any) { c.queue.Add(queueKey) },
	}
	h1, err := configMaps.Informer().AddEventHandler(cache.FilteringResourceEventHandler{FilterFunc: isClusterInfo, Handler: enqueue})
	if err != nil {
		return nil, fmt.Errorf("watching configmaps: %w", err)
	}
	h2, err := secrets.Informer().AddEventHandler(cache.FilteringResourceEventHandler{FilterFunc: isBootstrapToken, Handler: enqueue})
	if err != nil {
		return nil, fmt.Errorf("watching secrets: %w", err)
	}
	c.synced = []cache.InformerSynced{h1.HasSynced, h2.HasSynced}
	return c, nil
}

func unwrap(obj any) any {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

func isClusterInfo(obj any) bool {
	cm, ok := unwrap(obj).(*corev1.ConfigMap)
	return ok && cm.Namespace == metav1.NamespacePublic && cm.Name == bootstrapapi.ConfigMapClusterInfo
}

func isBootstrapToken(obj any) bool {
	s, ok := unwrap(obj).(*corev1.Secret)
	return ok && s.Namespace == metav1.NamespaceSystem && s.Type == bootstrapapi.SecretTypeBootstrapToken
}

// Run signs until ctx ends; one worker, since there is one object.
func (c *Controller) Run(ctx context.Context) {
	loop := &worker.Loop{Name: controllerName, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	c.queue.Add(queueKey)
	loop.Run(ctx, 1)
}

// Sync brings the jws-kubeconfig-<token-id> keys of cluster-info in line
// with the signing tokens: a signature for each, none for any other.
func (c *Controller) Sync(ctx context.Context, _ string) error {
	cached, err := c.configMaps.Get(bootstrapapi.ConfigMapClusterInfo)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	content, ok := cached.Data[bootstrapapi.KubeConfigKey]
	if !ok {
		klog.FromContext(ctx).V(3).Info("No key in ConfigMap", "key", bootstrapapi.KubeConfigKey, "configMap", klog.KObj(cached))
		return nil
	}
	cm := cached.DeepCopy()
	old := map[string]string{}
	for key, value := range cm.Data {
		if id, ok := strings.CutPrefix(key, bootstrapapi.JWSSignatureKeyPrefix); ok {
			old[id] = value
			delete(cm.Data, key)
		}
	}
	tokens, err := c.signingTokens(ctx)
	if err != nil {
		return err
	}
	changed := false
	for id, secret := range tokens {
		sig, err := ComputeDetachedSignature(content, id, secret)
		if err != nil {
			return fmt.Errorf("signing cluster-info with token %s: %w", id, err)
		}
		if old[id] != sig {
			changed = true
		}
		delete(old, id)
		cm.Data[bootstrapapi.JWSSignatureKeyPrefix+id] = sig
	}
	if len(old) != 0 {
		changed = true
	}
	if !changed {
		return nil
	}
	_, err = c.client.CoreV1().ConfigMaps(cm.Namespace).Update(ctx, cm, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		// A conflict means a newer cluster-info is on its way to the cache.
		return fmt.Errorf("updating %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	return nil
}

// signingTokens are the unexpired bootstrap tokens marked for signing, by ID.
func (c *Controller) signingTokens(ctx context.Context) (map[string]string, error) {
	secrets, err := c.secrets.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	logger := klog.FromContext(ctx)
	now := c.now()
	tokens := map[string]string{}
	for _, s := range secrets {
		if s.Type != bootstrapapi.SecretTypeBootstrapToken {
			continue
		}
		nameID, ok := bootstrapsecret.ParseName(s.Name)
		if !ok {
			continue
		}
		id := bootstrapsecret.GetData(s, bootstrapapi.BootstrapTokenIDKey)
		secret := bootstrapsecret.GetData(s, bootstrapapi.BootstrapTokenSecretKey)
		if id == "" || id != nameID || secret == "" || bootstrapsecret.HasExpired(s, now) ||
			bootstrapsecret.GetData(s, bootstrapapi.BootstrapTokenUsageSigningKey) != "true" {
			continue
		}
		if _, dup := tokens[id]; dup {
			logger.V(1).Info("Duplicate bootstrap tokens found for id, ignoring on the duplicate secret", "tokenID", id, "ignoredSecret", klog.KObj(s))
			continue
		}
		tokens[id] = secret
	}
	return tokens, nil
}
