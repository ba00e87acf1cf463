package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	apiextensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	apiextensionsoptions "k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	apiserverapi "k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/anonymous"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	"k8s.io/apiserver/pkg/authentication/request/websocket"
	"k8s.io/apiserver/pkg/authentication/request/x509"
	tokencache "k8s.io/apiserver/pkg/authentication/token/cache"
	tokenunion "k8s.io/apiserver/pkg/authentication/token/union"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	authzunion "k8s.io/apiserver/pkg/authorization/union"
	"k8s.io/apiserver/pkg/endpoints/discovery/aggregated"
	genericapifilters "k8s.io/apiserver/pkg/endpoints/filters"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	encryptionconfigcontroller "k8s.io/apiserver/pkg/server/options/encryptionconfig/controller"
	serverstorage "k8s.io/apiserver/pkg/server/storage"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/apiserver/pkg/util/notfoundhandler"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/component-base/compatibility"
	"k8s.io/component-base/version"
	"k8s.io/klog/v2"
	aggregatorapiserver "k8s.io/kube-aggregator/pkg/apiserver"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/skiff-dev/skiff/apis"
	"github.com/skiff-dev/skiff/apis/openapi"
	"github.com/skiff-dev/skiff/registry"
	authregistry "github.com/skiff-dev/skiff/registry/auth"
	nsregistry "github.com/skiff-dev/skiff/registry/core/namespace"
	podstorage "github.com/skiff-dev/skiff/registry/core/pod/storage"
	"github.com/skiff-dev/skiff/registry/core/service"
	saregistry "github.com/skiff-dev/skiff/registry/core/serviceaccount"
	skiffadmission "github.com/skiff-dev/skiff/server/admission"
	"github.com/skiff-dev/skiff/server/bootstraptoken"
	"github.com/skiff-dev/skiff/server/nodeauthz"
	"github.com/skiff-dev/skiff/server/rbac"
	satokens "github.com/skiff-dev/skiff/server/serviceaccount"
)

// specialResourcePrefixes are the storage key prefixes Kubernetes has always
// used for resources whose key differs from their name; keeping them makes
// skiff's datastore layout the one Kubernetes tools expect.
var specialResourcePrefixes = map[schema.GroupResource]string{
	{Group: "", Resource: "replicationcontrollers"}:     "controllers",
	{Group: "", Resource: "endpoints"}:                  "services/endpoints",
	{Group: "", Resource: "nodes"}:                      "minions",
	{Group: "", Resource: "services"}:                   "services/specs",
	{Group: "networking.k8s.io", Resource: "ingresses"}: "ingress",
}

// publicPaths are served to anyone, authenticated or not, as upstream's
// system:public-info-viewer role allows.
var publicPaths = []string{"/healthz", "/livez", "/readyz", "/version", "/version/"}

// Server is a running control plane.
type Server struct {
	apiserver  *genericapiserver.GenericAPIServer
	aggregator *aggregatorapiserver.APIAggregator
	datastore  *Datastore
	cfg        *Config
	ca         *CA
	lock       *dataDirLock
	// bootstrapTokens authenticates joining nodes and saTokens service
	// accounts; both read informers once build has made the factory.
	bootstrapTokens *bootstraptoken.Authenticator
	saTokens        *satokens.Tokens
}

// effectiveVersion is the Kubernetes version skiff's API reports, taken from
// the version the binary was built with.
func effectiveVersion() compatibility.MutableEffectiveVersion {
	v := version.Get().GitVersion
	if v == "" || v == "v0.0.0-master+$Format:%H$" {
		v = "v1.37.2"
	}
	return compatibility.NewEffectiveVersionFromString(v, "", "")
}

// New prepares the control plane: certificates, datastore and the API server
// chain. Run starts serving.
func New(ctx context.Context, cfg *Config) (*Server, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir %s: %w", cfg.DataDir, err)
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s, err := newWithLock(ctx, cfg)
	if err != nil {
		lock.release()
		return nil, err
	}
	s.lock = lock
	return s, nil
}

func newWithLock(ctx context.Context, cfg *Config) (*Server, error) {
	ca, err := LoadOrCreateCA(cfg.tlsDir(), "skiff-ca")
	if err != nil {
		return nil, err
	}
	svcIP, err := kubernetesServiceIP(cfg.ServiceCIDR)
	if err != nil {
		return nil, err
	}
	servingCert, servingKey, err := ca.EnsureCert(cfg.tlsDir(), "serving", servingCertSpec(cfg, svcIP))
	if err != nil {
		return nil, err
	}
	if err := writeAdminKubeconfig(cfg, ca); err != nil {
		return nil, err
	}

	ds, err := StartDatastore(cfg.DatastoreEndpoint, cfg.dbDir(), cfg.runDir())
	if err != nil {
		return nil, err
	}
	s := &Server{datastore: ds, cfg: cfg, ca: ca}
	if err := s.build(ctx, servingCert, servingKey, svcIP); err != nil {
		ds.Close()
		return nil, err
	}
	return s, nil
}

func servingCertSpec(cfg *Config, svcIP net.IP) CertSpec {
	ips := []net.IP{net.ParseIP("127.0.0.1"), svcIP}
	if cfg.AdvertiseAddress != nil {
		ips = append(ips, cfg.AdvertiseAddress)
	}
	if cfg.BindAddress != nil && !cfg.BindAddress.IsUnspecified() {
		ips = append(ips, cfg.BindAddress)
	}
	names := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc." + cfg.ClusterDomain}
	if host, err := os.Hostname(); err == nil && host != "" {
		names = append(names, host)
	}
	return CertSpec{CommonName: "kube-apiserver", DNSNames: dedupe(names), IPs: dedupeIPs(ips), Server: true}
}

func (s *Server) build(ctx context.Context, servingCert, servingKey string, svcIP net.IP) error {
	cfg := s.cfg
	ev := effectiveVersion()

	gc := genericapiserver.NewConfig(apis.Codecs)
	gc.EffectiveVersion = ev
	gc.FeatureGate = utilfeature.DefaultFeatureGate
	gc.PublicAddress = cfg.AdvertiseAddress
	gc.ExternalAddress = net.JoinHostPort(cfg.AdvertiseAddress.String(), strconv.Itoa(cfg.HTTPSPort))

	serving := genericoptions.NewSecureServingOptions()
	serving.BindAddress = cfg.BindAddress
	serving.BindPort = cfg.HTTPSPort
	serving.ServerCert.CertKey = genericoptions.CertKey{CertFile: servingCert, KeyFile: servingKey}
	if err := serving.WithLoopback().ApplyTo(&gc.SecureServing, &gc.LoopbackClientConfig); err != nil {
		return fmt.Errorf("configuring HTTPS on %s:%d: %w", cfg.BindAddress, cfg.HTTPSPort, err)
	}
	gc.LoopbackClientConfig.ContentType = runtime.ContentTypeProtobuf
	gc.LoopbackClientConfig.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON

	nodeRules, err := rbac.NodeRules()
	if err != nil {
		return err
	}
	nodeAuthz := nodeauthz.New(nodeRules)
	rbacAuthz, err := s.applyAuth(gc, nodeAuthz)
	if err != nil {
		return err
	}

	// Storage: every resource under /registry in the datastore, as protobuf.
	etcdOpts := genericoptions.NewEtcdOptions(storagebackend.NewDefaultConfig("/registry", nil))
	etcdOpts.StorageConfig.Transport.ServerList = s.datastore.Endpoints
	etcdOpts.DefaultStorageMediaType = runtime.ContentTypeProtobuf
	etcdOpts.WatchCacheSizes = []string{"events#0", "events.events.k8s.io#0"}
	// Secrets are encrypted at rest, as with kube-apiserver's
	// --encryption-provider-config. The CRD and aggregator configs copy gc
	// after this, so they share these transformers rather than load the file again.
	encPath := filepath.Join(cfg.credDir(), encryptionConfigName)
	if err := ensureEncryptionConfig(encPath, time.Now()); err != nil {
		return err
	}
	etcdOpts.EncryptionProviderConfigFilepath = encPath
	// Reloaded while running, so `skiff secrets-encrypt rotate` needs no restart.
	etcdOpts.EncryptionProviderConfigAutomaticReload = true
	encryptionconfigcontroller.EncryptionConfigFileChangePollDuration = encryptionReloadInterval
	resourceConfig := serverstorage.NewResourceConfig()
	resourceConfig.EnableVersions(apis.ServedGroupVersions...)
	gc.MergedResourceConfig = resourceConfig
	sf := serverstorage.NewDefaultStorageFactory(etcdOpts.StorageConfig, etcdOpts.DefaultStorageMediaType,
		apis.Codecs, serverstorage.NewDefaultResourceEncodingConfigForEffectiveVersion(apis.Scheme, ev),
		resourceConfig, specialResourcePrefixes)
	sf.AddCohabitatingResources(schema.GroupResource{Resource: "events"}, schema.GroupResource{Group: "events.k8s.io", Resource: "events"})
	if err := etcdOpts.ApplyWithStorageFactoryTo(sf, gc); err != nil {
		return fmt.Errorf("configuring storage: %w", err)
	}

	// OpenAPI: named after the external types only, so no internal version
	// leaks into x-kubernetes-group-version-kind.
	namer := openapinamer.NewDefinitionNamer(clientgoscheme.Scheme, apiextensionsapiserver.Scheme)
	gc.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openapi.GetOpenAPIDefinitions, namer)
	gc.OpenAPIConfig.Info.Title = "Kubernetes"
	gc.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openapi.GetOpenAPIDefinitions, namer)
	gc.OpenAPIV3Config.Info.Title = "Kubernetes"
	// Bearer tokens are accepted, so the specs say so (and gain the 401
	// responses kube-apiserver's have).
	bearer := spec.SecuritySchemeProps{Type: "apiKey", Name: "authorization", In: "header", Description: "Bearer Token authentication"}
	gc.OpenAPIConfig.SecurityDefinitions = &spec.SecurityDefinitions{"BearerToken": &spec.SecurityScheme{SecuritySchemeProps: bearer}}
	gc.OpenAPIV3Config.SecuritySchemes = spec3.SecuritySchemes{"BearerToken": &spec3.SecurityScheme{SecuritySchemeProps: spec3.SecuritySchemeProps{
		Type: bearer.Type, Name: bearer.Name, In: bearer.In, Description: bearer.Description,
	}}}
	gc.AggregatedDiscoveryGroupManager = aggregated.NewResourceManager("apis")

	client, err := kubernetes.NewForConfig(gc.LoopbackClientConfig)
	if err != nil {
		return fmt.Errorf("loopback client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(gc.LoopbackClientConfig)
	if err != nil {
		return fmt.Errorf("loopback client: %w", err)
	}
	informerFactory := informers.NewSharedInformerFactoryWithOptions(client, 10*time.Minute, informers.WithTransform(trimManagedFields))
	rbacAuthz.Use(informerFactory)
	s.bootstrapTokens.Use(informerFactory)
	s.saTokens.Use(informerFactory, client)
	if err := nodeAuthz.Use(informerFactory); err != nil {
		return err
	}
	admission := genericoptions.NewAdmissionOptions()
	skiffadmission.Register(admission)
	if err := admission.ApplyTo(gc, informerFactory, client, dyn, utilfeature.DefaultFeatureGate, ev, skiffadmission.Initializers()...); err != nil {
		return fmt.Errorf("configuring admission: %w", err)
	}

	// The CRD server is the delegate of the built-in API server.
	crdConfig, err := apiextensionsConfig(*gc, etcdOpts, informerFactory)
	if err != nil {
		return err
	}
	crdServer, err := crdConfig.Complete().New(genericapiserver.NewEmptyDelegateWithCustomHandler(
		notfoundhandler.New(apis.Codecs, genericapifilters.NoMuxAndDiscoveryIncompleteKey)))
	if err != nil {
		return fmt.Errorf("creating the CRD API server: %w", err)
	}
	// The aggregator, outermost in the chain, copies this config too.
	aggConfig, err := s.aggregatorConfig(*gc, etcdOpts, informerFactory)
	if err != nil {
		return err
	}

	srv, err := gc.Complete(informerFactory).New("kube-apiserver", crdServer.GenericAPIServer)
	if err != nil {
		return fmt.Errorf("creating the API server: %w", err)
	}
	services, err := service.New(service.Options{ServiceCIDR: cfg.ServiceCIDR, NodePortRange: service.PortRange(cfg.NodePortRange),
		RESTOptionsGetter: gc.RESTOptionsGetter, LoopbackConfig: gc.LoopbackClientConfig})
	if err != nil {
		return err
	}
	groups, err := registry.APIGroups(gc.RESTOptionsGetter, services.Extra, nsregistry.Extra(gc.RESTOptionsGetter),
		podstorage.Extra(podstorage.Options{PodDisruptionBudgets: client.PolicyV1(), Authorizer: gc.Authorization.Authorizer}),
		// Read after Complete, which adds the loopback token to the
		// authenticator, as upstream's reviews see it.
		authregistry.Extra(gc.Authentication.Authenticator, gc.Authentication.APIAudiences, gc.Authorization.Authorizer, gc.RuleResolver),
		registry.ComponentStatusExtra(map[string]registry.ComponentCheck{"etcd-0": datastoreCheck(gc)}),
		rbac.StorageExtra(gc.Authorization.Authorizer, rbacAuthz, client.RbacV1()),
		saregistry.Extra(s.saTokens, saregistry.DefaultOptions()))
	if err != nil {
		return err
	}
	if err := s.saTokens.InstallDiscovery(srv.Handler.GoRestfulContainer, gc.ExternalAddress); err != nil {
		return err
	}
	if err := srv.InstallLegacyAPIGroup(genericapiserver.DefaultLegacyAPIPrefix, groups[0]); err != nil {
		return fmt.Errorf("installing the core API: %w", err)
	}
	if err := srv.InstallAPIGroups(groups[1:]...); err != nil {
		return fmt.Errorf("installing API groups: %w", err)
	}

	if err := s.addControllers(srv, gc.LoopbackClientConfig, gc.Authorization.Authorizer, informerFactory, services); err != nil {
		return err
	}
	if err := s.addHollowNodes(srv, gc.LoopbackClientConfig); err != nil {
		return err
	}
	rbacPolicy, err := rbac.DefaultPolicy()
	if err != nil {
		return err
	}
	srv.AddPostStartHookOrDie(skiffadmission.SystemPriorityClassesHookName, skiffadmission.AddSystemPriorityClasses)
	srv.AddPostStartHookOrDie("rbac/bootstrap-roles", func(hc genericapiserver.PostStartHookContext) error {
		return rbac.Reconcile(hc, client, rbacPolicy)
	})
	srv.AddPostStartHookOrDie("start-skiff-informers", func(hc genericapiserver.PostStartHookContext) error {
		informerFactory.Start(hc.Done())
		return nil
	})
	srv.AddPostStartHookOrDie("skiff-service-allocators", func(hc genericapiserver.PostStartHookContext) error {
		return services.Start(hc)
	})
	srv.AddPostStartHookOrDie("skiff-bootstrap", func(hc genericapiserver.PostStartHookContext) error {
		return bootstrap(hc, client, cfg, svcIP)
	})
	s.apiserver = srv
	// Last: the aggregator registers an APIService for each group installed above.
	if s.aggregator, err = s.newAggregator(aggConfig, srv, crdServer.Informers.Apiextensions().V1().CustomResourceDefinitions()); err != nil {
		return err
	}
	return nil
}

// applyAuth sets up who may call the API: holders of a client certificate from
// the cluster CA (name from CN, groups from O), the server's own loopback
// token, service account and bootstrap tokens, and anonymous callers of the
// public health and version paths only; and what they may do: anything for
// system:masters, what the Node authorizer grants kubelets, else what RBAC
// grants. The RBAC authorizer it returns, nodeAuthz, s.saTokens and
// s.bootstrapTokens still need the informer factory (Use).
func (s *Server) applyAuth(gc *genericapiserver.Config, nodeAuthz *nodeauthz.Authorizer) (*rbac.Authorizer, error) {
	caProvider, err := dynamiccertificates.NewDynamicCAContentFromFile("client-ca", filepath.Join(s.cfg.tlsDir(), "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("loading client CA: %w", err)
	}
	if err := gc.Authentication.ApplyClientCert(caProvider, gc.SecureServing); err != nil {
		return nil, fmt.Errorf("configuring client certificates: %w", err)
	}
	var conditions []apiserverapi.AnonymousAuthCondition
	for _, p := range publicPaths {
		conditions = append(conditions, apiserverapi.AnonymousAuthCondition{Path: p})
	}
	frontProxy, err := s.frontProxyAuthenticator(gc)
	if err != nil {
		return nil, err
	}
	// Service account tokens: issuer and API audience are one string, as
	// kube-apiserver defaults --api-audiences to --service-account-issuer.
	issuer := "https://kubernetes.default.svc." + s.cfg.ClusterDomain
	if s.saTokens, err = satokens.New(filepath.Join(s.cfg.credDir(), satokens.KeyFileName), issuer, authenticator.Audiences{issuer}); err != nil {
		return nil, err
	}
	s.bootstrapTokens = bootstraptoken.NewAuthenticator()
	// Bearer tokens in kube-apiserver's order, behind its token cache: a
	// success is remembered for 10 s (--authentication-token-success-cache-ttl),
	// a failure not at all.
	tokens := tokencache.New(tokenunion.New(s.saTokens, s.bootstrapTokens), true, 10*time.Second, 0)
	// A credential that fails is a 401 even where anonymous callers are
	// let in, as kube-apiserver's union.NewFailOnError does.
	authn := union.NewFailOnError(union.New(
		frontProxy,
		group.NewAuthenticatedGroupAdder(x509.NewDynamic(caProvider.VerifyOptions, x509.CommonNameUserConversion)),
		group.NewAuthenticatedGroupAdder(union.New(bearertoken.New(tokens), websocket.NewProtocolAuthenticator(tokens))),
	), anonymous.NewAuthenticator(conditions))
	gc.Authentication.Authenticator = authn
	gc.Authentication.APIAudiences = authenticator.Audiences{issuer}

	masters := authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)
	// RBAC reads its informers once build has made the factory.
	rbacAuthz := rbac.New(nil)
	authz, err := authzunion.New(
		authzunion.NamedAuthorizer{AuthorizerName: "system-masters", Authorizer: masters},
		authzunion.NamedAuthorizer{AuthorizerName: "node", Authorizer: nodeAuthz},
		authzunion.NamedAuthorizer{AuthorizerName: "rbac", Authorizer: rbacAuthz},
	)
	if err != nil {
		return nil, fmt.Errorf("configuring authorization: %w", err)
	}
	gc.Authorization.Authorizer = authz
	gc.RuleResolver = authzunion.NewRuleResolvers(nodeAuthz, rbacAuthz)
	return rbacAuthz, nil
}

// apiextensionsConfig derives the CRD server's config from the main one, as
// kube-apiserver does: its own storage codec, no health checks of its own.
func apiextensionsConfig(gc genericapiserver.Config, etcdOpts *genericoptions.EtcdOptions, inf informers.SharedInformerFactory) (*apiextensionsapiserver.Config, error) {
	gc.PostStartHooks = map[string]genericapiserver.PostStartHookConfigEntry{}
	gc.RESTOptionsGetter = nil
	crdEtcd := *etcdOpts
	crdEtcd.StorageConfig.Codec = apiextensionsapiserver.Codecs.LegacyCodec(v1beta1.SchemeGroupVersion, apiextensionsv1GV)
	crdEtcd.StorageConfig.EncodeVersioner = runtime.NewMultiGroupVersioner(v1beta1.SchemeGroupVersion, schema.GroupKind{Group: v1beta1.GroupName})
	crdEtcd.SkipHealthEndpoints = true
	if err := crdEtcd.ApplyTo(&gc); err != nil {
		return nil, fmt.Errorf("configuring CRD storage: %w", err)
	}
	rc := serverstorage.NewResourceConfig()
	rc.EnableVersions(apiextensionsv1GV)
	gc.MergedResourceConfig = rc
	return &apiextensionsapiserver.Config{
		GenericConfig: &genericapiserver.RecommendedConfig{Config: gc, SharedInformerFactory: inf},
		ExtraConfig: apiextensionsapiserver.ExtraConfig{
			CRDRESTOptionsGetter: apiextensionsoptions.NewCRDRESTOptionsGetter(crdEtcd, gc.ResourceTransformers, gc.StorageObjectCountTracker),
			MasterCount:          1,
		},
	}, nil
}

var apiextensionsv1GV = schema.GroupVersion{Group: "apiextensions.k8s.io", Version: "v1"}

// Run serves the API until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	defer s.lock.release()
	defer s.datastore.Close()
	// The aggregator serves the OpenAPI merged from the whole chain, so
	// custom resources appear in it (kubectl explain, server-side apply).
	prepared, err := s.aggregator.PrepareRun()
	if err != nil {
		return fmt.Errorf("preparing the API server: %w", err)
	}

	klog.InfoS("Wrote the admin kubeconfig", "path", s.cfg.KubeconfigPath)
	return prepared.Run(ctx)
}

func dedupe(in []string) []string {
	return sets.List(sets.New(in...))
}

func dedupeIPs(in []net.IP) []net.IP {
	seen := map[string]bool{}
	var out []net.IP
	for _, ip := range in {
		if ip != nil && !seen[ip.String()] {
			seen[ip.String()] = true
			out = append(out, ip)
		}
	}
	return out
}

var _ http.Handler = (*genericapiserver.APIServerHandler)(nil)

// datastoreCheck reports the datastore's health through the API server's own
// storage health check.
func datastoreCheck(gc *genericapiserver.Config) registry.ComponentCheck {
	return func(ctx context.Context) (string, error) {
		for _, c := range gc.HealthzChecks {
			if c.Name() != "etcd" {
				continue
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/healthz/etcd", nil)
			if err != nil {
				return "", err
			}
			if err := c.Check(req); err != nil {
				return "", err
			}
			return "ok", nil
		}
		return "", fmt.Errorf("no datastore health check")
	}
}
