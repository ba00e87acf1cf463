// Package localpath is skiff's default dynamic provisioner: a volume is a
// directory on the node the scheduler picked for the claim's first pod,
// served as a hostPath PersistentVolume pinned to that node. It behaves as
// an external provisioner (sig-storage external-provisioner) toward the
// persistent volume binder: it provisions claims annotated for it and
// deletes its Released volumes of policy Delete.
package localpath

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	coreinformers "k8s.io/client-go/informers/core/v1"
	storageinformers "k8s.io/client-go/informers/storage/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	storagehelpers "k8s.io/component-helpers/storage/volume"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// ProvisionerName is what StorageClasses name to use this provisioner.
	ProvisionerName = "skiff.dev/local-path"
	// DefaultClassName is the default StorageClass skiff creates.
	DefaultClassName = "local-path"
	// Name is the controller's name.
	Name = "local-path-provisioner"
	// DefaultWorkers is external-provisioner's --worker-threads default
	// would be 100; a directory is cheap, a few suffice.
	DefaultWorkers = 2

	isDefaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"
)

// DefaultClass is the StorageClass a server creates when none of its name
// exists: volumes on the node of the first consumer, deleted with their
// claim.
func DefaultClass() *storagev1.StorageClass {
	return &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: DefaultClassName, Annotations: map[string]string{isDefaultClassAnnotation: "true"}},
		Provisioner:       ProvisionerName,
		ReclaimPolicy:     ptr.To(corev1.PersistentVolumeReclaimDelete),
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer),
	}
}

// Options configure the provisioner.
type Options struct {
	// BasePath holds the volumes' directories on every node.
	BasePath string
	// IsLocalNode tells whether a node's directories are on this host,
	// where this process creates and removes them itself.
	IsLocalNode func(node string) bool
}

// Controller is the local-path provisioner.
type Controller struct {
	client      kubernetes.Interface
	opts        Options
	claims      corelisters.PersistentVolumeClaimLister
	volumes     corelisters.PersistentVolumeLister
	classes     storagelisters.StorageClassLister
	nodes       corelisters.NodeLister
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	queue       workqueue.TypedRateLimitingInterface[string]
	synced      []cache.InformerSynced
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, opts Options, claims coreinformers.PersistentVolumeClaimInformer, volumes coreinformers.PersistentVolumeInformer,
	classes storageinformers.StorageClassInformer, nodes coreinformers.NodeInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("local-path provisioner client: %w", err)
	}
	return New(client, opts, claims, volumes, classes, nodes), nil
}

// New returns a provisioner writing through client.
func New(client kubernetes.Interface, opts Options, claims coreinformers.PersistentVolumeClaimInformer, volumes coreinformers.PersistentVolumeInformer,
	classes storageinformers.StorageClassInformer, nodes coreinformers.NodeInformer) *Controller {
	if opts.IsLocalNode == nil {
		opts.IsLocalNode = func(string) bool { return false }
	}
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		client:      client,
		opts:        opts,
		claims:      claims.Lister(),
		volumes:     volumes.Lister(),
		classes:     classes.Lister(),
		nodes:       nodes.Lister(),
		broadcaster: broadcaster,
		recorder:    broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: ProvisionerName}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "local_path"}),
	}
	cr, err := claims.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueClaim,
		UpdateFunc: func(_, obj any) { c.enqueueClaim(obj) },
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching persistentvolumeclaims for local-path: %w", err))
	}
	vr, err := volumes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueVolume,
		UpdateFunc: func(_, obj any) { c.enqueueVolume(obj) },
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching persistentvolumes for local-path: %w", err))
	}
	c.synced = []cache.InformerSynced{classes.Informer().HasSynced, nodes.Informer().HasSynced}
	for _, r := range []cache.ResourceEventHandlerRegistration{cr, vr} {
		if r != nil {
			c.synced = append(c.synced, r.HasSynced)
		}
	}
	return c
}

// Run provisions and deletes with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.broadcaster.StartStructuredLogging(3)
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()
	loop := &worker.Loop{Name: Name, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

func (c *Controller) enqueueClaim(obj any) {
	if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok && pvc.Spec.VolumeName == "" && pvc.DeletionTimestamp == nil &&
		pvc.Annotations[storagehelpers.AnnStorageProvisioner] == ProvisionerName {
		c.queue.Add("claim/" + pvc.Namespace + "/" + pvc.Name)
	}
}

func (c *Controller) enqueueVolume(obj any) {
	if pv, ok := obj.(*corev1.PersistentVolume); ok && ours(pv) && pv.Status.Phase == corev1.VolumeReleased {
		c.queue.Add("volume/" + pv.Name)
	}
}

func ours(pv *corev1.PersistentVolume) bool {
	return pv.Annotations[storagehelpers.AnnDynamicallyProvisioned] == ProvisionerName
}

// Sync handles "claim/<namespace>/<name>" and "volume/<name>".
func (c *Controller) Sync(ctx context.Context, key string) error {
	kind, rest, _ := strings.Cut(key, "/")
	switch kind {
	case "claim":
		ns, name, _ := strings.Cut(rest, "/")
		return c.syncClaim(ctx, ns, name)
	case "volume":
		return c.syncVolume(ctx, rest)
	}
	return nil
}

// VolumeName is external-provisioner's default: pvc-<claim UID>.
func VolumeName(claim *corev1.PersistentVolumeClaim) string { return "pvc-" + string(claim.UID) }

// DirName is the volume's directory under the base path.
func DirName(claim *corev1.PersistentVolumeClaim) string {
	return fmt.Sprintf("pvc-%s_%s_%s", claim.UID, claim.Namespace, claim.Name)
}

func (c *Controller) syncClaim(ctx context.Context, ns, name string) error {
	claim, err := c.claims.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if claim.Spec.VolumeName != "" || claim.DeletionTimestamp != nil || claim.Annotations[storagehelpers.AnnStorageProvisioner] != ProvisionerName {
		return nil
	}
	className := storagehelpers.GetPersistentVolumeClaimClass(claim)
	class, err := c.classes.Get(className)
	if err != nil {
		return err
	}
	if class.Provisioner != ProvisionerName {
		return nil
	}
	node := claim.Annotations[storagehelpers.AnnSelectedNode]
	if node == "" && ptr.Deref(class.VolumeBindingMode, storagev1.VolumeBindingImmediate) == storagev1.VolumeBindingWaitForFirstConsumer {
		// The scheduler picks the node first.
		return nil
	}
	// A volume already made for it (the cache may not show the claim
	// bound yet) must not be made twice.
	if _, err := c.volumes.Get(VolumeName(claim)); err == nil {
		return nil
	}
	if _, err := c.client.CoreV1().PersistentVolumes().Get(ctx, VolumeName(claim), metav1.GetOptions{}); err == nil {
		return nil
	}
	c.recorder.Event(claim, corev1.EventTypeNormal, "Provisioning", fmt.Sprintf("External provisioner is provisioning volume for claim %q", ns+"/"+name))
	pv, err := c.volumeFor(claim, class, node)
	if err != nil {
		// The claim asks for what this provisioner cannot give; only a
		// change to it can help.
		c.recorder.Event(claim, corev1.EventTypeWarning, "ProvisioningFailed", fmt.Sprintf("failed to provision volume with StorageClass %q: %v", class.Name, err))
		return nil
	}
	if c.opts.IsLocalNode(node) {
		if err := makeDir(pv.Spec.HostPath.Path); err != nil {
			c.recorder.Event(claim, corev1.EventTypeWarning, "ProvisioningFailed", fmt.Sprintf("failed to provision volume with StorageClass %q: %v", class.Name, err))
			return err
		}
	}
	if _, err := c.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		c.recorder.Event(claim, corev1.EventTypeWarning, "ProvisioningFailed", fmt.Sprintf("failed to provision volume with StorageClass %q: %v", class.Name, err))
		return fmt.Errorf("creating volume %s for claim %s/%s: %w", pv.Name, ns, name, err)
	}
	klog.FromContext(ctx).V(2).Info("Provisioned volume", "PVC", klog.KObj(claim), "volumeName", pv.Name, "node", node)
	c.recorder.Event(claim, corev1.EventTypeNormal, "ProvisioningSucceeded", fmt.Sprintf("Successfully provisioned volume %s", pv.Name))
	return nil
}

// volumeFor is the PersistentVolume for claim on node, pre-bound to it.
func (c *Controller) volumeFor(claim *corev1.PersistentVolumeClaim, class *storagev1.StorageClass, node string) (*corev1.PersistentVolume, error) {
	if node == "" {
		return nil, fmt.Errorf("configuration error, no node was specified")
	}
	if claim.Spec.Selector != nil {
		return nil, fmt.Errorf("claim Selector is not supported")
	}
	if ptr.Deref(claim.Spec.VolumeMode, corev1.PersistentVolumeFilesystem) != corev1.PersistentVolumeFilesystem {
		return nil, fmt.Errorf("only Filesystem volume mode is supported")
	}
	size, ok := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		return nil, fmt.Errorf("claim has no storage request")
	}
	// The node's hostname label, which may differ from its name, is what
	// node affinity matches.
	hostname := node
	if n, err := c.nodes.Get(node); err == nil && n.Labels[corev1.LabelHostname] != "" {
		hostname = n.Labels[corev1.LabelHostname]
	}
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        VolumeName(claim),
			Annotations: map[string]string{storagehelpers.AnnDynamicallyProvisioned: ProvisionerName},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   claim.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: ptr.Deref(class.ReclaimPolicy, corev1.PersistentVolumeReclaimDelete),
			StorageClassName:              class.Name,
			MountOptions:                  class.MountOptions,
			VolumeMode:                    ptr.To(corev1.PersistentVolumeFilesystem),
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: claim.Namespace, Name: claim.Name,
				UID: claim.UID, ResourceVersion: claim.ResourceVersion,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: filepath.Join(c.opts.BasePath, DirName(claim)),
				Type: ptr.To(corev1.HostPathDirectoryOrCreate),
			}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{hostname}}},
			}}}},
		},
	}, nil
}

func makeDir(path string) error {
	if err := os.MkdirAll(path, 0o777); err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	// Any pod's user must be able to write, whatever the umask.
	if err := os.Chmod(path, 0o777); err != nil {
		return fmt.Errorf("opening %s to pods: %w", path, err)
	}
	return nil
}

// syncVolume deletes a Released volume of policy Delete.
func (c *Controller) syncVolume(ctx context.Context, name string) error {
	pv, err := c.volumes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !ours(pv) || pv.Status.Phase != corev1.VolumeReleased || pv.DeletionTimestamp != nil ||
		pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		return nil
	}
	if node := volumeNode(pv); node != "" && c.opts.IsLocalNode(node) && pv.Spec.HostPath != nil {
		if err := c.removeDir(pv.Spec.HostPath.Path); err != nil {
			c.recorder.Event(pv, corev1.EventTypeWarning, "VolumeFailedDelete", err.Error())
			return err
		}
	}
	// A directory on another host stays until that host's node agent,
	// which cleans up the hostPath volumes of deleted local-path
	// volumes, removes it.
	if err := c.client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &pv.UID},
	}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting volume %s: %w", pv.Name, err)
	}
	klog.FromContext(ctx).V(2).Info("Deleted volume", "volumeName", pv.Name)
	return nil
}

// removeDir removes a volume's directory, refusing any path outside the
// base path: the PV object is user-writable.
func (c *Controller) removeDir(path string) error {
	rel, err := filepath.Rel(c.opts.BasePath, filepath.Clean(path))
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") || strings.Contains(rel, string(filepath.Separator)) {
		return fmt.Errorf("refusing to remove %s: not a volume directory under %s", path, c.opts.BasePath)
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}

// volumeNode is the node a volume's required affinity pins it to.
func volumeNode(pv *corev1.PersistentVolume) string {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return ""
	}
	for _, t := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
		for _, r := range t.MatchExpressions {
			if r.Key == corev1.LabelHostname && r.Operator == corev1.NodeSelectorOpIn && len(r.Values) == 1 {
				return r.Values[0]
			}
		}
	}
	return ""
}
