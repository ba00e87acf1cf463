package server

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	apiextensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	apiextensionsinformers "k8s.io/apiextensions-apiserver/pkg/client/informers/externalversions/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	"k8s.io/apiserver/pkg/features"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/apiserver/pkg/server/healthz"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/client-go/informers"
	corev1informers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	apiregistrationv1helper "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1/helper"
	apiregistrationv1beta1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1beta1"
	aggregatorapiserver "k8s.io/kube-aggregator/pkg/apiserver"
	aggregatorscheme "k8s.io/kube-aggregator/pkg/apiserver/scheme"
	apiregistrationclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset/typed/apiregistration/v1"
	apiregistrationinformers "k8s.io/kube-aggregator/pkg/client/informers/externalversions/apiregistration/v1"
	"k8s.io/kube-aggregator/pkg/controllers/autoregister"
	aggregatoropenapi "k8s.io/kube-aggregator/pkg/generated/openapi"
	commonopenapi "k8s.io/kube-openapi/pkg/common"

	"github.com/skiff-dev/skiff/apis/openapi"
)

// The aggregator is the outermost server of skiff's chain, as in
// kube-apiserver: it serves apiregistration.k8s.io, /apis discovery and the
// merged OpenAPI, routes every group version to its local APIService (the
// built-in server, and behind it the CRD server) and proxies aggregated
// APIServices to their Service through a front-proxy client certificate.

// apiServicePriority orders a group among groups (Group, higher first) and a
// version within its group (Version, higher first) in discovery.
type apiServicePriority struct {
	Group   int32
	Version int32
}

// builtinAPIServicePriorities are kube-apiserver's priorities for every
// built-in group version it has ever served; a group version missing here
// gets no APIService, exactly as upstream, so the list covers versions skiff
// does not serve yet as well.
var builtinAPIServicePriorities = map[schema.GroupVersion]apiServicePriority{
	{Group: "", Version: "v1"}:                                   {Group: 18000, Version: 1},
	{Group: "apps", Version: "v1"}:                               {Group: 17800, Version: 15},
	{Group: "events.k8s.io", Version: "v1"}:                      {Group: 17750, Version: 15},
	{Group: "events.k8s.io", Version: "v1beta1"}:                 {Group: 17750, Version: 5},
	{Group: "authentication.k8s.io", Version: "v1"}:              {Group: 17700, Version: 15},
	{Group: "authentication.k8s.io", Version: "v1beta1"}:         {Group: 17700, Version: 9},
	{Group: "authentication.k8s.io", Version: "v1alpha1"}:        {Group: 17700, Version: 1},
	{Group: "authorization.k8s.io", Version: "v1"}:               {Group: 17600, Version: 15},
	{Group: "autoscaling", Version: "v1"}:                        {Group: 17500, Version: 15},
	{Group: "autoscaling", Version: "v2"}:                        {Group: 17500, Version: 30},
	{Group: "autoscaling", Version: "v2beta1"}:                   {Group: 17500, Version: 9},
	{Group: "autoscaling", Version: "v2beta2"}:                   {Group: 17500, Version: 1},
	{Group: "batch", Version: "v1"}:                              {Group: 17400, Version: 15},
	{Group: "batch", Version: "v1beta1"}:                         {Group: 17400, Version: 9},
	{Group: "batch", Version: "v2alpha1"}:                        {Group: 17400, Version: 9},
	{Group: "certificates.k8s.io", Version: "v1"}:                {Group: 17300, Version: 15},
	{Group: "certificates.k8s.io", Version: "v1beta1"}:           {Group: 17300, Version: 9},
	{Group: "certificates.k8s.io", Version: "v1alpha1"}:          {Group: 17300, Version: 1},
	{Group: "networking.k8s.io", Version: "v1"}:                  {Group: 17200, Version: 15},
	{Group: "networking.k8s.io", Version: "v1beta1"}:             {Group: 17200, Version: 9},
	{Group: "policy", Version: "v1"}:                             {Group: 17100, Version: 15},
	{Group: "policy", Version: "v1beta1"}:                        {Group: 17100, Version: 9},
	{Group: "rbac.authorization.k8s.io", Version: "v1"}:          {Group: 17000, Version: 15},
	{Group: "storage.k8s.io", Version: "v1"}:                     {Group: 16800, Version: 15},
	{Group: "storage.k8s.io", Version: "v1beta1"}:                {Group: 16800, Version: 9},
	{Group: "storage.k8s.io", Version: "v1alpha1"}:               {Group: 16800, Version: 1},
	{Group: "apiextensions.k8s.io", Version: "v1"}:               {Group: 16700, Version: 15},
	{Group: "admissionregistration.k8s.io", Version: "v1"}:       {Group: 16700, Version: 15},
	{Group: "admissionregistration.k8s.io", Version: "v1beta1"}:  {Group: 16700, Version: 12},
	{Group: "admissionregistration.k8s.io", Version: "v1alpha1"}: {Group: 16700, Version: 9},
	{Group: "scheduling.k8s.io", Version: "v1"}:                  {Group: 16600, Version: 15},
	{Group: "scheduling.k8s.io", Version: "v1beta1"}:             {Group: 16600, Version: 9},
	{Group: "scheduling.k8s.io", Version: "v1alpha3"}:            {Group: 16600, Version: 3},
	{Group: "coordination.k8s.io", Version: "v1"}:                {Group: 16500, Version: 15},
	{Group: "coordination.k8s.io", Version: "v1beta1"}:           {Group: 16500, Version: 13},
	{Group: "coordination.k8s.io", Version: "v1alpha2"}:          {Group: 16500, Version: 12},
	{Group: "node.k8s.io", Version: "v1"}:                        {Group: 16300, Version: 15},
	{Group: "node.k8s.io", Version: "v1alpha1"}:                  {Group: 16300, Version: 1},
	{Group: "node.k8s.io", Version: "v1beta1"}:                   {Group: 16300, Version: 9},
	{Group: "discovery.k8s.io", Version: "v1"}:                   {Group: 16200, Version: 15},
	{Group: "discovery.k8s.io", Version: "v1beta1"}:              {Group: 16200, Version: 12},
	{Group: "resource.k8s.io", Version: "v1"}:                    {Group: 16200, Version: 21},
	{Group: "resource.k8s.io", Version: "v1beta2"}:               {Group: 16200, Version: 15},
	{Group: "resource.k8s.io", Version: "v1beta1"}:               {Group: 16200, Version: 9},
	{Group: "resource.k8s.io", Version: "v1alpha3"}:              {Group: 16200, Version: 1},
	{Group: "flowcontrol.apiserver.k8s.io", Version: "v1"}:       {Group: 16100, Version: 21},
	{Group: "flowcontrol.apiserver.k8s.io", Version: "v1beta3"}:  {Group: 16100, Version: 18},
	{Group: "flowcontrol.apiserver.k8s.io", Version: "v1beta2"}:  {Group: 16100, Version: 15},
	{Group: "flowcontrol.apiserver.k8s.io", Version: "v1beta1"}:  {Group: 16100, Version: 12},
	{Group: "flowcontrol.apiserver.k8s.io", Version: "v1alpha1"}: {Group: 16100, Version: 9},
	{Group: "internal.apiserver.k8s.io", Version: "v1alpha1"}:    {Group: 16000, Version: 9},
	{Group: "storagemigration.k8s.io", Version: "v1"}:            {Group: 15800, Version: 15},
	{Group: "storagemigration.k8s.io", Version: "v1beta1"}:       {Group: 15800, Version: 9},
	{Group: "lifecycle.k8s.io", Version: "v1alpha1"}:             {Group: 15700, Version: 1},
}

// Front proxy: the aggregator authenticates to aggregated API servers with a
// client certificate from a CA of its own and passes the user on in these
// headers; skiff's own server trusts the same CA and headers, so that any
// front proxy holding such a certificate may act for users. The names are
// kubeadm's configuration of kube-apiserver.
const (
	frontProxyClientName   = "front-proxy-client"
	frontProxyUserHeader   = "X-Remote-User"
	frontProxyGroupHeader  = "X-Remote-Group"
	frontProxyExtraPrefix  = "X-Remote-Extra-"
	frontProxyCACommonName = "front-proxy-ca"
	frontProxyCertName     = "client"
)

type frontProxyFiles struct{ caFile, certFile, keyFile string }

func (c *Config) frontProxyFiles() frontProxyFiles {
	dir := filepath.Join(c.tlsDir(), "front-proxy")
	return frontProxyFiles{
		caFile:   filepath.Join(dir, "ca.crt"),
		certFile: filepath.Join(dir, frontProxyCertName+".crt"),
		keyFile:  filepath.Join(dir, frontProxyCertName+".key"),
	}
}

// ensureFrontProxyCerts creates the front-proxy CA and the aggregator's client
// certificate on first start and renews the certificate when it nears expiry.
func ensureFrontProxyCerts(cfg *Config) (frontProxyFiles, error) {
	files := cfg.frontProxyFiles()
	dir := filepath.Dir(files.caFile)
	ca, err := LoadOrCreateCA(dir, frontProxyCACommonName)
	if err != nil {
		return files, fmt.Errorf("front-proxy CA: %w", err)
	}
	if _, _, err := ca.EnsureCert(dir, frontProxyCertName, CertSpec{CommonName: frontProxyClientName, Client: true}); err != nil {
		return files, fmt.Errorf("front-proxy client certificate: %w", err)
	}
	return files, nil
}

// frontProxyAuthenticator makes gc trust requests the aggregator forwards:
// TLS accepts the front-proxy CA, the user comes from the X-Remote-* headers
// of a caller presenting the front-proxy client certificate, and the
// generic handler chain strips those headers afterwards.
func (s *Server) frontProxyAuthenticator(gc *genericapiserver.Config) (authenticator.Request, error) {
	files, err := ensureFrontProxyCerts(s.cfg)
	if err != nil {
		return nil, err
	}
	ca, err := dynamiccertificates.NewDynamicCAContentFromFile("request-header", files.caFile)
	if err != nil {
		return nil, fmt.Errorf("loading the front-proxy CA: %w", err)
	}
	rh := &authenticatorfactory.RequestHeaderConfig{
		UsernameHeaders:     headerrequest.StaticStringSlice{frontProxyUserHeader},
		UIDHeaders:          headerrequest.StaticStringSlice{},
		GroupHeaders:        headerrequest.StaticStringSlice{frontProxyGroupHeader},
		ExtraHeaderPrefixes: headerrequest.StaticStringSlice{frontProxyExtraPrefix},
		CAContentProvider:   ca,
		AllowedClientNames:  headerrequest.StaticStringSlice{frontProxyClientName},
	}
	if err := gc.Authentication.ApplyClientCert(ca, gc.SecureServing); err != nil {
		return nil, fmt.Errorf("trusting the front-proxy CA: %w", err)
	}
	gc.Authentication.RequestHeaderConfig = rh
	authn := headerrequest.NewDynamicVerifyOptionsSecure(ca.VerifyOptions, rh.AllowedClientNames,
		rh.UsernameHeaders, rh.UIDHeaders, rh.GroupHeaders, rh.ExtraHeaderPrefixes)
	return group.NewAuthenticatedGroupAdder(authn), nil
}

// aggregatorConfig derives the aggregator's config from the built-in
// server's, as kube-apiserver does: its own storage codec for APIServices, its
// own OpenAPI (the aggregator merges the chain's specs itself), no health
// checks or post-start hooks of the built-in server. gc must not have been
// completed yet.
func (s *Server) aggregatorConfig(gc genericapiserver.Config, etcdOpts *genericoptions.EtcdOptions, inf informers.SharedInformerFactory) (*aggregatorapiserver.Config, error) {
	gc.PostStartHooks = map[string]genericapiserver.PostStartHookConfigEntry{}
	gc.RESTOptionsGetter = nil
	gc.SkipOpenAPIInstallation = true
	gc.OpenAPIConfig, gc.OpenAPIV3Config = aggregatorOpenAPIConfigs(gc.OpenAPIConfig, gc.OpenAPIV3Config)

	aggEtcd := *etcdOpts
	aggEtcd.StorageConfig.Codec = aggregatorscheme.Codecs.LegacyCodec(apiregistrationv1.SchemeGroupVersion, apiregistrationv1beta1.SchemeGroupVersion)
	aggEtcd.StorageConfig.EncodeVersioner = runtime.NewMultiGroupVersioner(apiregistrationv1.SchemeGroupVersion,
		schema.GroupKind{Group: apiregistrationv1beta1.GroupName})
	aggEtcd.SkipHealthEndpoints = true
	if err := aggEtcd.ApplyTo(&gc); err != nil {
		return nil, fmt.Errorf("configuring APIService storage: %w", err)
	}
	gc.MergedResourceConfig = aggregatorapiserver.DefaultAPIResourceConfigSource()

	resolver, err := serviceResolver(inf, gc.LoopbackClientConfig.Host)
	if err != nil {
		return nil, err
	}
	files := s.cfg.frontProxyFiles()
	return &aggregatorapiserver.Config{
		GenericConfig: &genericapiserver.RecommendedConfig{Config: gc, SharedInformerFactory: inf},
		ExtraConfig: aggregatorapiserver.ExtraConfig{
			ProxyClientCertFile:       files.certFile,
			ProxyClientKeyFile:        files.keyFile,
			ServiceResolver:           resolver,
			RejectForwardingRedirects: true,
		},
	}, nil
}

// aggregatorOpenAPIConfigs copies the built-in server's OpenAPI configs with
// the apiregistration.k8s.io definitions added, which the aggregator's own
// endpoints need.
func aggregatorOpenAPIConfigs(v2 *commonopenapi.Config, v3 *commonopenapi.OpenAPIV3Config) (*commonopenapi.Config, *commonopenapi.OpenAPIV3Config) {
	defs := func(ref commonopenapi.ReferenceCallback) map[string]commonopenapi.OpenAPIDefinition {
		out := openapi.GetOpenAPIDefinitions(ref)
		maps.Copy(out, aggregatoropenapi.GetOpenAPIDefinitions(ref))
		return out
	}
	namer := openapinamer.NewDefinitionNamer(clientgoscheme.Scheme, apiextensionsapiserver.Scheme, aggregatorscheme.Scheme)
	outV2 := genericapiserver.DefaultOpenAPIConfig(defs, namer)
	outV3 := genericapiserver.DefaultOpenAPIV3Config(defs, namer)
	if v2 != nil && v2.Info != nil {
		outV2.Info.Title = v2.Info.Title
		outV2.SecurityDefinitions = v2.SecurityDefinitions
	}
	if v3 != nil && v3.Info != nil {
		outV3.Info.Title = v3.Info.Title
		outV3.SecuritySchemes = v3.SecuritySchemes
	}
	return outV2, outV3
}

// serviceResolver routes aggregated APIServices straight to a ready endpoint
// of their Service, so they work without a service proxy on this host; the
// `kubernetes` Service resolves to this server itself.
func serviceResolver(inf informers.SharedInformerFactory, loopbackHost string) (aggregatorapiserver.ServiceResolver, error) {
	slices, err := proxy.NewEndpointSliceIndexerGetter(inf.Discovery().V1().EndpointSlices())
	if err != nil {
		return nil, fmt.Errorf("indexing EndpointSlices: %w", err)
	}
	resolver := aggregatorapiserver.NewEndpointServiceResolver(inf.Core().V1().Services().Lister(), slices)
	if host, err := url.Parse(loopbackHost); err == nil {
		resolver = aggregatorapiserver.NewLoopbackServiceResolver(resolver, host)
	}
	return resolver, nil
}

// newAggregator puts the aggregator in front of delegate (the built-in
// server) and keeps a local APIService for each of the chain's group
// versions: the built-in ones once at start, the CRDs' as they come and go.
func (s *Server) newAggregator(config *aggregatorapiserver.Config, delegate *genericapiserver.GenericAPIServer,
	crds apiextensionsinformers.CustomResourceDefinitionInformer) (*aggregatorapiserver.APIAggregator, error) {
	completed := config.Complete()
	agg, err := completed.NewWithDelegate(delegate)
	if err != nil {
		return nil, fmt.Errorf("creating the aggregator: %w", err)
	}
	client, err := apiregistrationclient.NewForConfig(completed.GenericConfig.LoopbackClientConfig)
	if err != nil {
		return nil, fmt.Errorf("apiregistration client: %w", err)
	}
	apiServiceInformer := agg.APIRegistrationInformers.Apiregistration().V1().APIServices()
	autoRegister := autoregister.NewAutoRegisterController(apiServiceInformer, client)
	builtin := builtinAPIServices(delegate.ListedPaths())
	for _, svc := range builtin {
		autoRegister.AddAPIServiceToSyncOnStart(svc)
	}
	crdRegistration, err := newCRDRegistrationController(crds, autoRegister)
	if err != nil {
		return nil, err
	}

	// Aggregated discovery orders groups by the same priorities as /apis.
	if m := completed.GenericConfig.AggregatedDiscoveryGroupManager; m != nil {
		for gv, p := range builtinAPIServicePriorities {
			m.SetGroupVersionPriority(metav1.GroupVersion(gv), int(p.Group), int(p.Version))
		}
	}

	if err := agg.GenericAPIServer.AddPostStartHook("kube-apiserver-autoregistration", func(hc genericapiserver.PostStartHookContext) error {
		go crdRegistration.Run(hc, 5)
		go func() {
			// Autoregister deletes automanaged APIServices it was not asked
			// to keep; the CRDs' must be asked for before it starts.
			if crdRegistration.WaitForInitialSync(hc) {
				autoRegister.Run(5, hc.Done())
			}
		}()
		return nil
	}); err != nil {
		return nil, err
	}
	if err := agg.GenericAPIServer.AddBootSequenceHealthChecks(
		apiServicesAvailableCheck("autoregister-completion", builtin, apiServiceInformer)); err != nil {
		return nil, err
	}

	publisher := &authenticationInfoPublisher{
		clientCAFile:      filepath.Join(s.cfg.tlsDir(), "ca.crt"),
		requestHeaderFile: s.cfg.frontProxyFiles().caFile,
		requestHeader:     completed.GenericConfig.Authentication.RequestHeaderConfig,
	}
	if err := agg.GenericAPIServer.AddPostStartHook("start-cluster-authentication-info-controller", publisher.start); err != nil {
		return nil, err
	}
	return agg, nil
}

// builtinAPIServices are the local APIServices of the group versions the
// delegate chain lists: /api/v1 and /apis/<group>/<version>. Group versions
// without a known priority are skipped, so that a CRD group can never end up
// pinned as a built-in one.
func builtinAPIServices(listedPaths []string) []*apiregistrationv1.APIService {
	var out []*apiregistrationv1.APIService
	for _, p := range listedPaths {
		var gv schema.GroupVersion
		switch parts := strings.Split(p, "/"); {
		case p == "/api/v1":
			gv = schema.GroupVersion{Version: "v1"}
		case len(parts) == 4 && parts[1] == "apis":
			gv = schema.GroupVersion{Group: parts[2], Version: parts[3]}
		default:
			continue
		}
		prio, ok := builtinAPIServicePriorities[gv]
		if !ok {
			klog.InfoS("Skipping APIService creation for a group version without a priority", "groupVersion", gv)
			continue
		}
		out = append(out, &apiregistrationv1.APIService{
			ObjectMeta: metav1.ObjectMeta{Name: gv.Version + "." + gv.Group},
			Spec: apiregistrationv1.APIServiceSpec{
				Group:                gv.Group,
				Version:              gv.Version,
				GroupPriorityMinimum: prio.Group,
				VersionPriority:      prio.Version,
			},
		})
	}
	return out
}

// apiServicesAvailableCheck fails until every one of services has been seen
// Available at least once; it keeps the server unready until the
// aggregator can route all built-in group versions.
func apiServicesAvailableCheck(name string, services []*apiregistrationv1.APIService, informer apiregistrationinformers.APIServiceInformer) healthz.HealthChecker {
	var mu sync.RWMutex
	pending := sets.New[string]()
	for _, svc := range services {
		pending.Insert(svc.Name)
	}
	observe := func(obj any) {
		svc, ok := obj.(*apiregistrationv1.APIService)
		if !ok || !apiregistrationv1helper.IsAPIServiceConditionTrue(svc, apiregistrationv1.Available) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		pending.Delete(svc.Name)
	}
	// The handler is never removed: it lives as long as the server.
	_, _ = informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, obj any) { observe(obj) },
	})
	return healthz.NamedCheck(name, func(*http.Request) error {
		mu.RLock()
		defer mu.RUnlock()
		if pending.Len() > 0 {
			return fmt.Errorf("missing APIService: %v", sets.List(pending))
		}
		return nil
	})
}

// The extension-apiserver-authentication ConfigMap tells aggregated API
// servers which CA signs client certificates and which front proxy (CA,
// names, headers) to trust; they read it with
// k8s.io/apiserver's delegating authentication.
const (
	authenticationInfoNamespace = metav1.NamespaceSystem
	authenticationInfoName      = "extension-apiserver-authentication"

	keyClientCA                = "client-ca-file"
	keyRequestHeaderCA         = "requestheader-client-ca-file"
	keyRequestHeaderUsernames  = "requestheader-username-headers"
	keyRequestHeaderUIDs       = "requestheader-uid-headers"
	keyRequestHeaderGroups     = "requestheader-group-headers"
	keyRequestHeaderExtras     = "requestheader-extra-headers-prefix"
	keyRequestHeaderAllowedCNs = "requestheader-allowed-names"
)

// authenticationInfoPublisher keeps the extension-apiserver-authentication
// ConfigMap current. What other servers sharing the datastore published
// stays: CA bundles and header lists are merged with theirs, and expired
// certificates are dropped.
type authenticationInfoPublisher struct {
	clientCAFile, requestHeaderFile string
	requestHeader                   *authenticatorfactory.RequestHeaderConfig

	clientCA, requestHeaderCA *dynamiccertificates.DynamicFileCAContent
	client                    kubernetes.Interface
	configMaps                corev1listers.ConfigMapLister
	queue                     workqueue.TypedRateLimitingInterface[string]
}

// start is the post-start hook that runs the publisher for the server's life.
func (p *authenticationInfoPublisher) start(hc genericapiserver.PostStartHookContext) error {
	client, err := kubernetes.NewForConfig(hc.LoopbackClientConfig)
	if err != nil {
		return fmt.Errorf("loopback client: %w", err)
	}
	p.client = client
	if p.clientCA, err = dynamiccertificates.NewDynamicCAContentFromFile("client-ca-bundle", p.clientCAFile); err != nil {
		return fmt.Errorf("loading the client CA: %w", err)
	}
	if p.requestHeaderCA, err = dynamiccertificates.NewDynamicCAContentFromFile("request-header", p.requestHeaderFile); err != nil {
		return fmt.Errorf("loading the front-proxy CA: %w", err)
	}
	p.queue = workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "cluster_authentication_trust_controller"})

	// One ConfigMap is all this needs to see.
	informer := corev1informers.NewFilteredConfigMapInformer(client, authenticationInfoNamespace, 12*time.Hour, cache.Indexers{},
		func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", authenticationInfoName).String()
		})
	p.configMaps = corev1listers.NewConfigMapLister(informer.GetIndexer())
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { p.Enqueue() },
		UpdateFunc: func(any, any) { p.Enqueue() },
		DeleteFunc: func(any) { p.Enqueue() },
	}); err != nil {
		return err
	}
	p.clientCA.AddListener(p)
	p.requestHeaderCA.AddListener(p)

	go p.run(hc, informer)
	return nil
}

// Enqueue asks for a sync; the CA file watchers call it when a CA changes.
func (p *authenticationInfoPublisher) Enqueue() { p.queue.Add(authenticationInfoName) }

func (p *authenticationInfoPublisher) run(ctx context.Context, informer cache.SharedIndexInformer) {
	defer utilruntime.HandleCrash()
	defer p.queue.ShutDown()
	go p.clientCA.Run(ctx, 1)
	go p.requestHeaderCA.Run(ctx, 1)
	go informer.RunWithContext(ctx)
	if !cache.WaitForNamedCacheSyncWithContext(ctx, informer.HasSynced) {
		return
	}
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		for p.processNext(ctx) {
		}
	}, time.Second)
	// Someone may edit the ConfigMap by hand; put it right within a minute.
	wait.UntilWithContext(ctx, func(context.Context) { p.Enqueue() }, time.Minute)
}

func (p *authenticationInfoPublisher) processNext(ctx context.Context) bool {
	key, quit := p.queue.Get()
	if quit {
		return false
	}
	defer p.queue.Done(key)
	if err := p.sync(ctx); err != nil {
		utilruntime.HandleError(fmt.Errorf("publishing %s/%s: %w", authenticationInfoNamespace, authenticationInfoName, err))
		p.queue.AddRateLimited(key)
		return true
	}
	p.queue.Forget(key)
	return true
}

func (p *authenticationInfoPublisher) sync(ctx context.Context) error {
	cur, err := p.configMaps.ConfigMaps(authenticationInfoNamespace).Get(authenticationInfoName)
	if apierrors.IsNotFound(err) {
		cur = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: authenticationInfoNamespace, Name: authenticationInfoName}}
	} else if err != nil {
		return err
	}
	existing, err := parseAuthenticationInfo(cur.Data)
	if err != nil {
		return err
	}
	own := authenticationInfo{
		clientCA:        p.clientCA.CurrentCABundleContent(),
		requestHeaderCA: p.requestHeaderCA.CurrentCABundleContent(),
		usernames:       p.requestHeader.UsernameHeaders.Value(),
		uids:            p.requestHeader.UIDHeaders.Value(),
		groups:          p.requestHeader.GroupHeaders.Value(),
		extras:          p.requestHeader.ExtraHeaderPrefixes.Value(),
		allowedNames:    p.requestHeader.AllowedClientNames.Value(),
	}
	merged, err := mergeAuthenticationInfo(existing, own, time.Now())
	if err != nil {
		return err
	}
	data, err := merged.configMapData()
	if err != nil {
		return err
	}
	if cur.ResourceVersion != "" && equality.Semantic.DeepEqual(cur.Data, data) {
		return nil
	}
	want := cur.DeepCopy()
	want.Data = data
	klog.V(2).InfoS("Writing authentication info for extension API servers", "configmap", klog.KObj(want))
	if cur.ResourceVersion == "" {
		if err := ensureNamespace(ctx, p.client, authenticationInfoNamespace); err != nil {
			return err
		}
		_, err = p.client.CoreV1().ConfigMaps(authenticationInfoNamespace).Create(ctx, want, metav1.CreateOptions{})
		return err
	}
	_, err = p.client.CoreV1().ConfigMaps(authenticationInfoNamespace).Update(ctx, want, metav1.UpdateOptions{})
	// A ConfigMap grown past the size limit can never be updated; start it
	// over, and let the retry write this server's part back.
	if apierrors.IsRequestEntityTooLargeError(err) || (apierrors.IsInvalid(err) && strings.Contains(err.Error(), "Too long")) {
		if delErr := p.client.CoreV1().ConfigMaps(authenticationInfoNamespace).Delete(ctx, authenticationInfoName, metav1.DeleteOptions{}); delErr != nil {
			return delErr
		}
	}
	return err
}

func ensureNamespace(ctx context.Context, client kubernetes.Interface, name string) error {
	if _, err := client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{}); err == nil {
		return nil
	}
	_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// authenticationInfo is the content of extension-apiserver-authentication.
type authenticationInfo struct {
	clientCA, requestHeaderCA                     []byte
	usernames, uids, groups, extras, allowedNames []string
}

func parseAuthenticationInfo(data map[string]string) (authenticationInfo, error) {
	info := authenticationInfo{clientCA: []byte(data[keyClientCA]), requestHeaderCA: []byte(data[keyRequestHeaderCA])}
	for key, dst := range map[string]*[]string{
		keyRequestHeaderUsernames:  &info.usernames,
		keyRequestHeaderUIDs:       &info.uids,
		keyRequestHeaderGroups:     &info.groups,
		keyRequestHeaderExtras:     &info.extras,
		keyRequestHeaderAllowedCNs: &info.allowedNames,
	} {
		if data[key] == "" {
			continue
		}
		if err := json.Unmarshal([]byte(data[key]), dst); err != nil {
			return authenticationInfo{}, fmt.Errorf("%s: %w", key, err)
		}
	}
	return info, nil
}

// mergeAuthenticationInfo combines what is published with this server's
// part: lists keep their order with duplicates dropped, and CA bundles lose
// certificates expired for more than five minutes.
func mergeAuthenticationInfo(existing, own authenticationInfo, now time.Time) (authenticationInfo, error) {
	out := authenticationInfo{
		usernames:    mergeUnique(existing.usernames, own.usernames),
		uids:         mergeUnique(existing.uids, own.uids),
		groups:       mergeUnique(existing.groups, own.groups),
		extras:       mergeUnique(existing.extras, own.extras),
		allowedNames: mergeUnique(existing.allowedNames, own.allowedNames),
	}
	var err error
	if out.clientCA, err = mergeCABundles(existing.clientCA, own.clientCA, now); err != nil {
		return out, fmt.Errorf("%s: %w", keyClientCA, err)
	}
	if out.requestHeaderCA, err = mergeCABundles(existing.requestHeaderCA, own.requestHeaderCA, now); err != nil {
		return out, fmt.Errorf("%s: %w", keyRequestHeaderCA, err)
	}
	return out, nil
}

func mergeUnique(lists ...[]string) []string {
	out := []string{}
	seen := sets.New[string]()
	for _, l := range lists {
		for _, s := range l {
			if !seen.Has(s) {
				seen.Insert(s)
				out = append(out, s)
			}
		}
	}
	return out
}

func mergeCABundles(a, b []byte, now time.Time) ([]byte, error) {
	var out bytes.Buffer
	var seen [][]byte
	for _, bundle := range [][]byte{a, b} {
		if len(bytes.TrimSpace(bundle)) == 0 {
			continue
		}
		certs, err := certutil.ParseCertsPEM(bundle)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			if c.NotAfter.Before(now.Add(-5*time.Minute)) || slices.ContainsFunc(seen, func(raw []byte) bool { return bytes.Equal(raw, c.Raw) }) {
				continue
			}
			seen = append(seen, c.Raw)
			if err := pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
				return nil, err
			}
		}
	}
	return out.Bytes(), nil
}

// configMapData lays the info out as kube-apiserver does: the request header
// keys only when there is a front-proxy CA, UID headers only when the
// RemoteRequestHeaderUID feature is on and some are configured.
func (a authenticationInfo) configMapData() (map[string]string, error) {
	data := map[string]string{}
	if len(a.clientCA) > 0 {
		data[keyClientCA] = string(a.clientCA)
	}
	if len(a.requestHeaderCA) == 0 {
		return data, nil
	}
	data[keyRequestHeaderCA] = string(a.requestHeaderCA)
	lists := map[string][]string{
		keyRequestHeaderUsernames:  a.usernames,
		keyRequestHeaderGroups:     a.groups,
		keyRequestHeaderExtras:     a.extras,
		keyRequestHeaderAllowedCNs: a.allowedNames,
	}
	if utilfeature.DefaultFeatureGate.Enabled(features.RemoteRequestHeaderUID) && len(a.uids) > 0 {
		lists[keyRequestHeaderUIDs] = a.uids
	}
	for key, l := range lists {
		if l == nil {
			l = []string{}
		}
		b, err := json.Marshal(l)
		if err != nil {
			return nil, err
		}
		data[key] = string(b)
	}
	return data, nil
}
