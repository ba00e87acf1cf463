package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/controllers/admissionpolicystatus"
	"github.com/skiff-dev/skiff/controllers/bootstrapsigner"
	cronjobcontroller "github.com/skiff-dev/skiff/controllers/cronjob"
	"github.com/skiff-dev/skiff/controllers/csrapproving"
	"github.com/skiff-dev/skiff/controllers/csrcleaner"
	"github.com/skiff-dev/skiff/controllers/csrsigning"
	"github.com/skiff-dev/skiff/controllers/daemonset"
	"github.com/skiff-dev/skiff/controllers/deployment"
	disruptioncontroller "github.com/skiff-dev/skiff/controllers/disruption"
	endpointscontroller "github.com/skiff-dev/skiff/controllers/endpoints"
	endpointslicecontroller "github.com/skiff-dev/skiff/controllers/endpointslice"
	"github.com/skiff-dev/skiff/controllers/endpointslicemirroring"
	"github.com/skiff-dev/skiff/controllers/ephemeralvolume"
	"github.com/skiff-dev/skiff/controllers/garbagecollector"
	jobcontroller "github.com/skiff-dev/skiff/controllers/job"
	"github.com/skiff-dev/skiff/controllers/legacysatokencleaner"
	"github.com/skiff-dev/skiff/controllers/localpath"
	nscontroller "github.com/skiff-dev/skiff/controllers/namespace"
	"github.com/skiff-dev/skiff/controllers/nodeipam"
	"github.com/skiff-dev/skiff/controllers/nodelifecycle"
	"github.com/skiff-dev/skiff/controllers/pcrcleaner"
	"github.com/skiff-dev/skiff/controllers/persistentvolume"
	"github.com/skiff-dev/skiff/controllers/podautoscaler"
	"github.com/skiff-dev/skiff/controllers/podgc"
	"github.com/skiff-dev/skiff/controllers/pvcprotection"
	"github.com/skiff-dev/skiff/controllers/pvprotection"
	"github.com/skiff-dev/skiff/controllers/replicaset"
	"github.com/skiff-dev/skiff/controllers/resourceclaim"
	rqcontroller "github.com/skiff-dev/skiff/controllers/resourcequota"
	"github.com/skiff-dev/skiff/controllers/rootcacert"
	"github.com/skiff-dev/skiff/controllers/scheduler"
	sacontroller "github.com/skiff-dev/skiff/controllers/serviceaccount"
	"github.com/skiff-dev/skiff/controllers/serviceaccounttoken"
	"github.com/skiff-dev/skiff/controllers/statefulset"
	"github.com/skiff-dev/skiff/controllers/tainteviction"
	"github.com/skiff-dev/skiff/controllers/tokencleaner"
	ttlcontroller "github.com/skiff-dev/skiff/controllers/ttl"
	"github.com/skiff-dev/skiff/controllers/ttlafterfinished"
	"github.com/skiff-dev/skiff/controllers/vacprotection"
	"github.com/skiff-dev/skiff/internal/useragent"
	"github.com/skiff-dev/skiff/registry/core/service"
	"github.com/skiff-dev/skiff/server/rbac"
)

// controllerContext is what a controller is built from.
type controllerContext struct {
	// config authenticates as the controller's own identity.
	config *rest.Config
	// informers is the server's shared informer factory; informers taken
	// from it while building start with it.
	informers informers.SharedInformerFactory
	server    *Server
	services  *service.Registry
}

// controllerDef is one controller of skiff's controller manager: what
// kube-controller-manager runs, and the controllers kube-apiserver runs
// itself (such as ClusterRole aggregation).
type controllerDef struct {
	// name is the controller's name, and the name of the service account
	// in kube-system it acts as unless identity says otherwise.
	name string
	// identity is who it acts as; the zero value means the service account.
	identity controllerIdentity
	// probe is one permission its role grants (see runController).
	probe authorizer.AttributesRecord
	// build returns the controller's run function, which blocks until ctx
	// ends.
	build func(cc controllerContext) (run func(ctx context.Context), err error)
	// lease names the Lease in kube-system whose holder alone runs the
	// controller, so that of several servers on one datastore only one
	// acts; "" means kube-controller-manager's.
	lease string
	// everyServer runs the controller on every server without a lease, as
	// kube-apiserver runs its own controllers.
	everyServer bool
}

const (
	controllerManagerLease = "kube-controller-manager"
	schedulerLease         = "kube-scheduler"
)

// leaseHolders are who holds each lease: the component the controllers
// under it belong to upstream.
var leaseHolders = map[string]controllerIdentity{
	controllerManagerLease: {user: user.KubeControllerManager},
	schedulerLease:         {user: user.KubeScheduler},
}

// component is the upstream binary the controller belongs to.
func (d controllerDef) component() string {
	if d.everyServer {
		return "kube-apiserver"
	}
	return d.leaseName()
}

// clientName ends the controller's user agent: the service account name
// kube-controller-manager builds each controller's client for, and
// kube-scheduler's "scheduler".
func (d controllerDef) clientName() string {
	if d.leaseName() == schedulerLease {
		return "scheduler"
	}
	return d.name
}

func (d controllerDef) leaseName() string {
	if d.lease == "" {
		return controllerManagerLease
	}
	return d.lease
}

// controllerDefs are the controllers a server runs, each with the
// identity and least role upstream gives it. A new controller is one entry.
func controllerDefs() []controllerDef {
	return []controllerDef{
		{
			name:        "clusterrole-aggregation-controller",
			everyServer: true,
			probe:       authorizer.AttributesRecord{Verb: "escalate", APIGroup: "rbac.authorization.k8s.io", Resource: "clusterroles"},
			build: func(cc controllerContext) (func(context.Context), error) {
				client, err := kubernetes.NewForConfig(cc.config)
				if err != nil {
					return nil, err
				}
				a, err := rbac.NewAggregator(cc.informers.Rbac().V1().ClusterRoles(), client.RbacV1())
				if err != nil {
					return nil, err
				}
				return a.Run, nil
			},
		},
		{
			// Off by default upstream, where kubeadm turns it on; skiff has
			// bootstrap tokens and cluster-info from the start.
			name:  "bootstrap-signer",
			probe: authorizer.AttributesRecord{Verb: "update", Resource: "configmaps", Namespace: metav1.NamespacePublic, Name: "cluster-info"},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := bootstrapsigner.NewForConfig(cc.config, cc.informers.Core().V1().Secrets(), cc.informers.Core().V1().ConfigMaps())
				if err != nil {
					return nil, err
				}
				return c.Run, nil
			},
		},
		{
			name:     "certificatesigningrequest-approving-controller",
			identity: certificateControllerIdentity(),
			probe:    authorizer.AttributesRecord{Verb: "update", APIGroup: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: "approval"},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := csrapproving.NewForConfig(cc.config, cc.informers.Certificates().V1().CertificateSigningRequests())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, csrapproving.DefaultWorkers) }, nil
			},
		},
		{
			name:     "certificatesigningrequest-cleaner-controller",
			identity: certificateControllerIdentity(),
			probe:    authorizer.AttributesRecord{Verb: "delete", APIGroup: "certificates.k8s.io", Resource: "certificatesigningrequests"},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := csrcleaner.NewForConfig(cc.config, cc.informers.Certificates().V1().CertificateSigningRequests())
				if err != nil {
					return nil, err
				}
				return c.Run, nil
			},
		},
		{
			// It signs with the cluster CA, kube-controller-manager's
			// --cluster-signing-{cert,key}-file under kubeadm.
			name:     "certificatesigningrequest-signing-controller",
			identity: certificateControllerIdentity(),
			probe:    authorizer.AttributesRecord{Verb: "update", APIGroup: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: "status"},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := csrsigning.NewForConfig(cc.config, cc.informers.Certificates().V1().CertificateSigningRequests(),
					cc.server.ca.Cert, cc.server.ca.Key, csrsigning.DefaultDuration)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, csrsigning.DefaultWorkers) }, nil
			},
		},
		{
			name:  "cronjob-controller",
			probe: authorizer.AttributesRecord{Verb: "create", APIGroup: "batch", Resource: "jobs", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := cronjobcontroller.NewForConfig(cc.config, cc.informers.Batch().V1().Jobs(), cc.informers.Batch().V1().CronJobs())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, cronjobcontroller.DefaultWorkers) }, nil
			},
		},
		{
			name:  "job-controller",
			probe: authorizer.AttributesRecord{Verb: "update", APIGroup: "batch", Resource: "jobs", Subresource: "status", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := jobcontroller.NewForConfig(cc.config, cc.informers.Core().V1().Pods(), cc.informers.Batch().V1().Jobs())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, jobcontroller.DefaultWorkers) }, nil
			},
		},
		{
			name:  daemonset.Name,
			probe: authorizer.AttributesRecord{Verb: "update", APIGroup: "apps", Resource: "daemonsets", Subresource: "status", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := daemonset.NewForConfig(cc.config, cc.informers.Apps().V1().DaemonSets(), cc.informers.Apps().V1().ControllerRevisions(),
					cc.informers.Core().V1().Pods(), cc.informers.Core().V1().Nodes())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, daemonset.DefaultWorkers) }, nil
			},
		},
		{
			name:  "disruption-controller",
			probe: authorizer.AttributesRecord{Verb: "update", APIGroup: "policy", Resource: "poddisruptionbudgets", Subresource: "status", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := disruptioncontroller.NewForConfig(cc.config, cc.informers)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, disruptioncontroller.DefaultWorkers) }, nil
			},
		},
		{
			name:  "endpoint-controller",
			probe: authorizer.AttributesRecord{Verb: "update", Resource: "endpoints", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := endpointscontroller.NewForConfig(cc.config, cc.informers)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, endpointscontroller.DefaultWorkers) }, nil
			},
		},
		{
			name:  "endpointslice-controller",
			probe: authorizer.AttributesRecord{Verb: "update", APIGroup: "discovery.k8s.io", Resource: "endpointslices", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := endpointslicecontroller.NewForConfig(cc.config, cc.informers)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, endpointslicecontroller.DefaultWorkers) }, nil
			},
		},
		{
			name:  endpointslicemirroring.Name,
			probe: authorizer.AttributesRecord{Verb: "update", APIGroup: "discovery.k8s.io", Resource: "endpointslices", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := endpointslicemirroring.NewForConfig(cc.config, cc.informers)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, endpointslicemirroring.DefaultWorkers) }, nil
			},
		},
		{
			name:  ephemeralvolume.Name,
			probe: authorizer.AttributesRecord{Verb: "create", Resource: "persistentvolumeclaims", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := ephemeralvolume.NewForConfig(cc.config, cc.informers.Core().V1().Pods(), cc.informers.Core().V1().PersistentVolumeClaims())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, ephemeralvolume.DefaultWorkers) }, nil
			},
		},
		{
			name:  admissionpolicystatus.Name,
			probe: authorizer.AttributesRecord{Verb: "patch", APIGroup: "admissionregistration.k8s.io", Resource: "validatingadmissionpolicies", Subresource: "status"},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := admissionpolicystatus.NewForConfig(cc.config, cc.informers.Admissionregistration().V1().ValidatingAdmissionPolicies())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, admissionpolicystatus.DefaultWorkers) }, nil
			},
		},
		{
			name:  "deployment-controller",
			probe: authorizer.AttributesRecord{Verb: "update", APIGroup: "apps", Resource: "deployments", Subresource: "status", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := deployment.NewForConfig(cc.config, cc.informers.Apps().V1().Deployments(), cc.informers.Apps().V1().ReplicaSets(), cc.informers.Core().V1().Pods())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, deployment.DefaultWorkers) }, nil
			},
		},
		{
			name:  "legacy-service-account-token-cleaner",
			probe: authorizer.AttributesRecord{Verb: "patch", Resource: "secrets", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := legacysatokencleaner.NewForConfig(cc.config, cc.informers.Core().V1().ServiceAccounts(), cc.informers.Core().V1().Secrets(),
					cc.informers.Core().V1().Pods(), legacysatokencleaner.DefaultOptions())
				if err != nil {
					return nil, err
				}
				return c.Run, nil
			},
		},
		{
			// Upstream runs it on the node-controller service account and
			// role (the name "node-controller" is node IPAM's entry here).
			name:     nodelifecycle.Name,
			identity: nodeControllerIdentity(),
			probe:    authorizer.AttributesRecord{Verb: "update", Resource: "nodes", Subresource: "status"},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := nodelifecycle.NewForConfig(cc.config, nodelifecycle.DefaultConfig(), cc.informers.Coordination().V1().Leases(),
					cc.informers.Core().V1().Pods(), cc.informers.Core().V1().Nodes())
				if err != nil {
					return nil, err
				}
				return c.Run, nil
			},
		},
		{
			name:  "podcertificaterequestcleaner",
			probe: authorizer.AttributesRecord{Verb: "delete", APIGroup: "certificates.k8s.io", Resource: "podcertificaterequests", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := pcrcleaner.NewForConfig(cc.config, cc.informers.Certificates().V1().PodCertificateRequests())
				if err != nil {
					return nil, err
				}
				return c.Run, nil
			},
		},
		{
			name:  podgc.Name,
			probe: authorizer.AttributesRecord{Verb: "delete", Resource: "pods", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := podgc.NewForConfig(cc.config, cc.informers.Core().V1().Pods(), cc.informers.Core().V1().Nodes(), podgc.DefaultTerminatedPodThreshold)
				if err != nil {
					return nil, err
				}
				return c.Run, nil
			},
		},
		{
			// Upstream runs it on the node-controller service account and
			// role too: no role of its own exists.
			name:     tainteviction.Name,
			identity: nodeControllerIdentity(),
			probe:    authorizer.AttributesRecord{Verb: "delete", Resource: "pods", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := tainteviction.NewForConfig(cc.config, cc.informers.Core().V1().Pods(), cc.informers.Core().V1().Nodes())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, tainteviction.DefaultWorkers) }, nil
			},
		},
		{
			// kube-controller-manager runs it as the node-controller service account.
			name:     "node-ipam-controller",
			identity: nodeControllerIdentity(),
			probe:    authorizer.AttributesRecord{Verb: "patch", Resource: "nodes"},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := nodeipam.NewForConfig(cc.config, cc.informers.Core().V1().Nodes(), cc.server.cfg.nodeIPAMOptions())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, nodeipam.DefaultWorkers) }, nil
			},
		},
		{
			name:  "generic-garbage-collector",
			probe: authorizer.AttributesRecord{Verb: "delete", APIGroup: "apps", Resource: "replicasets", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := garbagecollector.NewForConfig(cc.config)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, garbagecollector.DefaultWorkers) }, nil
			},
		},
		{
			name:  podautoscaler.Name,
			probe: authorizer.AttributesRecord{Verb: "update", APIGroup: "autoscaling", Resource: "horizontalpodautoscalers", Subresource: "status", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := podautoscaler.NewForConfig(cc.config, cc.informers.Autoscaling().V2().HorizontalPodAutoscalers(), cc.informers.Core().V1().Pods(), podautoscaler.DefaultConfig())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, podautoscaler.DefaultWorkers) }, nil
			},
		},
		{
			// It acts as kube-scheduler itself, as upstream's does, under
			// kube-scheduler's own lease.
			name:     "kube-scheduler",
			identity: controllerIdentity{user: user.KubeScheduler},
			lease:    schedulerLease,
			probe:    authorizer.AttributesRecord{Verb: "create", Resource: "pods", Subresource: "binding", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				s, err := scheduler.NewForConfig(cc.config, cc.informers)
				if err != nil {
					return nil, err
				}
				return s.Run, nil
			},
		},
		{
			name:  "namespace-controller",
			probe: authorizer.AttributesRecord{Verb: "delete", Resource: "namespaces"},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := nscontroller.NewForConfig(cc.config, cc.informers.Core().V1().Namespaces(), nscontroller.DefaultResync)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, nscontroller.DefaultWorkers) }, nil
			},
		},
		{
			name:  persistentvolume.Name,
			probe: authorizer.AttributesRecord{Verb: "update", Resource: "persistentvolumes", Subresource: "status"},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := persistentvolume.NewForConfig(cc.config, cc.informers.Core().V1().PersistentVolumes(), cc.informers.Core().V1().PersistentVolumeClaims(),
					cc.informers.Storage().V1().StorageClasses(), cc.informers.Core().V1().Pods())
				if err != nil {
					return nil, err
				}
				return c.Run, nil
			},
		},
		{
			// skiff's own provisioner, an external provisioner upstream;
			// it needs what the binder's role grants (volumes, claims,
			// classes, nodes, events), so it acts as the binder.
			name:     localpath.Name,
			identity: controllerIdentity{serviceaccount.MakeUsername(metav1.NamespaceSystem, persistentvolume.Name), serviceaccount.MakeGroupNames(metav1.NamespaceSystem)},
			probe:    authorizer.AttributesRecord{Verb: "create", Resource: "persistentvolumes"},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := localpath.NewForConfig(cc.config, cc.server.cfg.localPathOptions(), cc.informers.Core().V1().PersistentVolumeClaims(),
					cc.informers.Core().V1().PersistentVolumes(), cc.informers.Storage().V1().StorageClasses(), cc.informers.Core().V1().Nodes())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, localpath.DefaultWorkers) }, nil
			},
		},
		{
			name:  pvprotection.Name,
			probe: authorizer.AttributesRecord{Verb: "update", Resource: "persistentvolumes"},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := pvprotection.NewForConfig(cc.config, cc.informers.Core().V1().PersistentVolumes())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, pvprotection.DefaultWorkers) }, nil
			},
		},
		{
			name:  pvcprotection.Name,
			probe: authorizer.AttributesRecord{Verb: "update", Resource: "persistentvolumeclaims", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := pvcprotection.NewForConfig(cc.config, cc.informers.Core().V1().PersistentVolumeClaims(), cc.informers.Core().V1().Pods())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, pvcprotection.DefaultWorkers) }, nil
			},
		},
		{
			name:  vacprotection.Name,
			probe: authorizer.AttributesRecord{Verb: "update", APIGroup: "storage.k8s.io", Resource: "volumeattributesclasses"},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := vacprotection.NewForConfig(cc.config, cc.informers.Core().V1().PersistentVolumeClaims(), cc.informers.Core().V1().PersistentVolumes(),
					cc.informers.Storage().V1().VolumeAttributesClasses())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, vacprotection.DefaultWorkers) }, nil
			},
		},
		{
			name:  "replicaset-controller",
			probe: authorizer.AttributesRecord{Verb: "update", APIGroup: "apps", Resource: "replicasets", Subresource: "status", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := replicaset.NewForConfig(cc.config, cc.informers.Apps().V1().ReplicaSets(), cc.informers.Core().V1().Pods())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, replicaset.DefaultWorkers) }, nil
			},
		},
		{
			name:  "replication-controller",
			probe: authorizer.AttributesRecord{Verb: "update", Resource: "replicationcontrollers", Subresource: "status", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := replicaset.NewReplicationManagerForConfig(cc.config, cc.informers.Core().V1().ReplicationControllers(), cc.informers.Core().V1().Pods())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, replicaset.DefaultWorkers) }, nil
			},
		},
		{
			name:  resourceclaim.Name,
			probe: authorizer.AttributesRecord{Verb: "create", APIGroup: "resource.k8s.io", Resource: "resourceclaims", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := resourceclaim.NewForConfig(cc.config, cc.informers.Core().V1().Pods(), cc.informers.Resource().V1().ResourceClaims(),
					cc.informers.Resource().V1().ResourceClaimTemplates())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, resourceclaim.DefaultWorkers) }, nil
			},
		},
		{
			name:  "resourcequota-controller",
			probe: authorizer.AttributesRecord{Verb: "update", Resource: "resourcequotas", Subresource: "status", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := rqcontroller.NewForConfig(cc.config, cc.informers.Core().V1().ResourceQuotas(), cc.informers)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, rqcontroller.DefaultWorkers) }, nil
			},
		},
		{
			name:  "root-ca-cert-publisher",
			probe: authorizer.AttributesRecord{Verb: "create", Resource: "configmaps", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := rootcacert.NewForConfig(cc.config, cc.informers.Core().V1().Namespaces(), cc.informers.Core().V1().ConfigMaps(), cc.server.ca.CertPEM)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, rootcacert.DefaultWorkers) }, nil
			},
		},
		{
			name:  "service-account-controller",
			probe: authorizer.AttributesRecord{Verb: "create", Resource: "serviceaccounts", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := sacontroller.NewForConfig(cc.config, cc.informers.Core().V1().Namespaces(), cc.informers.Core().V1().ServiceAccounts())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, sacontroller.DefaultWorkers) }, nil
			},
		},
		{
			name:  "service-cidrs-controller",
			probe: authorizer.AttributesRecord{Verb: "update", APIGroup: "networking.k8s.io", Resource: "servicecidrs", Subresource: "finalizers"},
			build: func(cc controllerContext) (func(context.Context), error) {
				return cc.services.ServiceCIDRController(cc.config)
			},
		},
		{
			name:  statefulset.Name,
			probe: authorizer.AttributesRecord{Verb: "update", APIGroup: "apps", Resource: "statefulsets", Subresource: "status", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := statefulset.NewForConfig(cc.config, cc.informers.Core().V1().Pods(), cc.informers.Apps().V1().StatefulSets(),
					cc.informers.Core().V1().PersistentVolumeClaims(), cc.informers.Apps().V1().ControllerRevisions())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, statefulset.DefaultWorkers) }, nil
			},
		},
		{
			name:  "token-cleaner",
			probe: authorizer.AttributesRecord{Verb: "delete", Resource: "secrets", Namespace: metav1.NamespaceSystem},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := tokencleaner.NewForConfig(cc.config, cc.informers.Core().V1().Secrets())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, tokencleaner.DefaultWorkers) }, nil
			},
		},
		{
			// It acts as kube-controller-manager itself, as upstream's
			// does: it writes tokens for every service account.
			name:     "tokens-controller",
			identity: controllerIdentity{user: user.KubeControllerManager},
			probe:    authorizer.AttributesRecord{Verb: "create", Resource: "secrets", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := serviceaccounttoken.NewForConfig(cc.config, cc.informers.Core().V1().ServiceAccounts(), cc.informers.Core().V1().Secrets(),
					cc.server.saTokens, cc.server.ca.CertPEM)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, serviceaccounttoken.DefaultWorkers) }, nil
			},
		},
		{
			name:  "ttl-controller",
			probe: authorizer.AttributesRecord{Verb: "patch", Resource: "nodes"},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := ttlcontroller.NewForConfig(cc.config, cc.informers.Core().V1().Nodes())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, ttlcontroller.DefaultWorkers) }, nil
			},
		},
		{
			name:  ttlafterfinished.Name,
			probe: authorizer.AttributesRecord{Verb: "delete", APIGroup: "batch", Resource: "jobs", Namespace: metav1.NamespaceDefault},
			build: func(cc controllerContext) (func(context.Context), error) {
				c, err := ttlafterfinished.NewForConfig(cc.config, cc.informers.Batch().V1().Jobs())
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) { c.Run(ctx, ttlafterfinished.DefaultWorkers) }, nil
			},
		},
	}
}

// certificateControllerIdentity is the service account
// kube-system/certificate-controller, bound to
// system:controller:certificate-controller, which kube-controller-manager
// gives the CSR signing, approving and cleaning controllers alike.
func certificateControllerIdentity() controllerIdentity {
	return controllerIdentity{serviceaccount.MakeUsername(metav1.NamespaceSystem, "certificate-controller"), serviceaccount.MakeGroupNames(metav1.NamespaceSystem)}
}

// nodeControllerIdentity is the service account kube-system/node-controller,
// bound to system:controller:node-controller, which kube-controller-manager
// gives the node lifecycle and taint eviction controllers.
func nodeControllerIdentity() controllerIdentity {
	return controllerIdentity{serviceaccount.MakeUsername(metav1.NamespaceSystem, "node-controller"), serviceaccount.MakeGroupNames(metav1.NamespaceSystem)}
}

// addControllers starts the controllers from a post-start hook: those of
// every server at once, on the server's shared informers; the others once
// this server holds their lease, each term on informers of its own that end
// with the term. Losing a lease (a datastore too slow to renew it, say)
// stops that set and puts the server back in the election, where
// kube-controller-manager would exit.
func (s *Server) addControllers(srv *genericapiserver.GenericAPIServer, loopback *rest.Config, authz authorizer.Authorizer,
	inf informers.SharedInformerFactory, services *service.Registry) error {
	id, err := s.leaderIdentity()
	if err != nil {
		return err
	}
	set := controllerSet{server: s, loopback: loopback, authz: authz, services: services}
	everyServer := map[string][]controllerDef{}
	leased := map[string][]controllerDef{}
	enabled, err := enabledControllers(s.cfg.Controllers)
	if err != nil {
		return err
	}
	for _, def := range controllerDefs() {
		if !enabled(def) {
			klog.InfoS("Controller disabled", "controller", def.name)
			continue
		}
		if def.everyServer {
			everyServer[""] = append(everyServer[""], def)
		} else {
			leased[def.leaseName()] = append(leased[def.leaseName()], def)
		}
	}
	// Built now, so the informers they take start with the shared factory.
	runs, err := set.build(everyServer[""], inf)
	if err != nil {
		return err
	}
	electors := map[string]*leaderelection.LeaderElectionConfig{}
	for lease, defs := range leased {
		cfg, err := set.electionConfig(lease, id, defs)
		if err != nil {
			return err
		}
		electors[lease] = cfg
	}
	srv.AddPostStartHookOrDie("skiff-controllers", func(hc genericapiserver.PostStartHookContext) error {
		for _, r := range runs {
			runController(hc, authz, r.def, r.run)
		}
		for lease, cfg := range electors {
			go func() {
				// Stand once the holder may read its lease (the default
				// policy is in place), not into a burst of 403s.
				holder := leaseHolders[lease]
				probe := authorizer.AttributesRecord{Verb: "get", APIGroup: "coordination.k8s.io", Resource: "leases", Namespace: metav1.NamespaceSystem, Name: lease,
					ResourceRequest: true, User: &user.DefaultInfo{Name: holder.user, Groups: append(slices.Clone(holder.groups), user.AllAuthenticated)}}
				_ = wait.PollUntilContextTimeout(hc, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
					decision, _, _ := authz.Authorize(ctx, probe)
					return decision == authorizer.DecisionAllow, nil
				})
				// A lost lease ends Run; stand again until the server stops.
				for hc.Err() == nil {
					leaderelection.RunOrDie(hc, *cfg)
				}
			}()
		}
		return nil
	})
	return nil
}

// controllerSet builds controllers for addControllers.
type controllerSet struct {
	server   *Server
	loopback *rest.Config
	authz    authorizer.Authorizer
	services *service.Registry
}

type builtController struct {
	def controllerDef
	run func(context.Context)
}

// build makes each controller with its own identity, on the informers of inf.
func (c controllerSet) build(defs []controllerDef, inf informers.SharedInformerFactory) ([]builtController, error) {
	var out []builtController
	for _, def := range defs {
		id := def.identityOrServiceAccount()
		cfg, err := c.server.ca.clientConfig(c.loopback, id.user, id.groups)
		if err != nil {
			return nil, err
		}
		cfg.UserAgent = useragent.For(def.component(), def.clientName())
		run, err := def.build(controllerContext{config: cfg, informers: inf, server: c.server, services: c.services})
		if err != nil {
			return nil, fmt.Errorf("building the %s: %w", def.name, err)
		}
		out = append(out, builtController{def, run})
	}
	return out, nil
}

// electionConfig is the leader election for the controllers under lease:
// kube-controller-manager's timings, the lease held by the component they
// belong to, and for each term fresh informers and controllers.
func (c controllerSet) electionConfig(lease, id string, defs []controllerDef) (*leaderelection.LeaderElectionConfig, error) {
	holder := leaseHolders[lease]
	cfg, err := c.server.ca.clientConfig(c.loopback, holder.user, holder.groups)
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = useragent.For(lease, "leader-election")
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: lease},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	lead := func(ctx context.Context) {
		klog.InfoS("Leading; starting controllers", "lease", lease, "controllers", len(defs))
		// Upstream's shared informers resync every 12 to 24 hours.
		inf := informers.NewSharedInformerFactoryWithOptions(client, 12*time.Hour, informers.WithTransform(trimManagedFields))
		runs, err := c.build(defs, inf)
		if err != nil {
			klog.ErrorS(err, "Building controllers", "lease", lease)
			return
		}
		inf.Start(ctx.Done())
		for _, r := range runs {
			runController(ctx, c.authz, r.def, r.run)
		}
		<-ctx.Done()
		inf.Shutdown()
	}
	return &leaderelection.LeaderElectionConfig{
		Lock:            lock,
		Name:            lease,
		LeaseDuration:   15 * time.Second,
		RenewDeadline:   10 * time.Second,
		RetryPeriod:     2 * time.Second,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: lead,
			OnStoppedLeading: func() { klog.InfoS("Stopped leading; controllers stopped", "lease", lease) },
		},
	}, nil
}

// leaderIdentity names this server in leader election: the hostname and an
// ID kept in the data dir. Being stable across restarts, it lets a server
// that restarts without having released its leases (it crashed, say) renew
// them at once instead of waiting them out; two servers never share a data
// dir, so never an ID.
func (s *Server) leaderIdentity() (string, error) {
	hostname, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("naming this server for leader election: %w", err)
	}
	path := filepath.Join(s.cfg.DataDir, "server", "id")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data = []byte(uuid.NewUUID())
		err = writeFileAtomic(path, data, 0o644)
	}
	if err != nil {
		return "", fmt.Errorf("reading this server's ID: %w", err)
	}
	return hostname + "_" + strings.TrimSpace(string(data)), nil
}

// enabledControllers reads a kube-controller-manager style --controllers
// list. The API server's own controllers cannot be disabled.
func enabledControllers(list []string) (func(controllerDef) bool, error) {
	if len(list) == 0 {
		list = []string{"*"}
	}
	known := map[string]bool{}
	for _, def := range controllerDefs() {
		known[def.name] = true
	}
	all, on, off := false, map[string]bool{}, map[string]bool{}
	for _, item := range list {
		name, disable := strings.CutPrefix(strings.TrimSpace(item), "-")
		switch {
		case name == "*" && !disable:
			all = true
		case !known[name]:
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			slices.Sort(names)
			return nil, fmt.Errorf("--controllers: unknown controller %q; known: %s", name, strings.Join(names, ", "))
		case disable:
			off[name] = true
		default:
			on[name] = true
		}
	}
	return func(d controllerDef) bool {
		return d.everyServer || (!off[d.name] && (all || on[d.name]))
	}, nil
}

// trimManagedFields drops managedFields from objects in informer caches, as
// kube-controller-manager does: no controller reads them, they are often
// the larger part of an object, and an update that carries none keeps the
// stored ones.
func trimManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}
