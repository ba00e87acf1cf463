package server

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	nscontroller "github.com/skiff-dev/skiff/controllers/namespace"
	rqcontroller "github.com/skiff-dev/skiff/controllers/resourcequota"
	"github.com/skiff-dev/skiff/controllers/rootcacert"
	sacontroller "github.com/skiff-dev/skiff/controllers/serviceaccount"
	"github.com/skiff-dev/skiff/controllers/scheduler"
	"github.com/skiff-dev/skiff/controllers/serviceaccounttoken"
	"github.com/skiff-dev/skiff/controllers/tokencleaner"
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
}

// controllerDefs are the controllers a server runs, each with the
// identity and least role upstream gives it. A new controller is one entry.
func controllerDefs() []controllerDef {
	return []controllerDef{
		{
			name:  "clusterrole-aggregation-controller",
			probe: authorizer.AttributesRecord{Verb: "escalate", APIGroup: "rbac.authorization.k8s.io", Resource: "clusterroles"},
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
			// It acts as kube-scheduler itself, as upstream's does.
			name:     "kube-scheduler",
			identity: controllerIdentity{user: user.KubeScheduler},
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
	}
}

// addControllers builds every controller now, so that the informers they
// take start with the factory, and runs each from a post-start hook.
func (s *Server) addControllers(srv *genericapiserver.GenericAPIServer, loopback *rest.Config, authz authorizer.Authorizer,
	inf informers.SharedInformerFactory, services *service.Registry) error {
	type ready struct {
		def controllerDef
		run func(context.Context)
	}
	var runs []ready
	for _, def := range controllerDefs() {
		id := def.identityOrServiceAccount()
		cfg, err := s.ca.clientConfig(loopback, id.user, id.groups)
		if err != nil {
			return err
		}
		run, err := def.build(controllerContext{config: rest.AddUserAgent(cfg, def.name), informers: inf, server: s, services: services})
		if err != nil {
			return fmt.Errorf("building the %s: %w", def.name, err)
		}
		runs = append(runs, ready{def, run})
	}
	srv.AddPostStartHookOrDie("skiff-controllers", func(hc genericapiserver.PostStartHookContext) error {
		for _, r := range runs {
			runController(hc, authz, r.def, r.run)
		}
		return nil
	})
	return nil
}
