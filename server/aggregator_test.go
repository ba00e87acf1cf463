package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	crdlisters "k8s.io/apiextensions-apiserver/pkg/client/listers/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	apiregistrationclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	apiregistrationtyped "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset/typed/apiregistration/v1"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/apis"
)

func TestBuiltinAPIServices(t *testing.T) {
	tests := []struct {
		name  string
		paths []string
		want  map[string][2]int32 // APIService name -> group, version priority
	}{
		{
			name:  "core and grouped versions",
			paths: []string{"/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/apis/autoscaling/v2", "/apis/autoscaling/v1", "/healthz", "/openapi/v2"},
			want: map[string][2]int32{
				"v1.":            {18000, 1},
				"v1.apps":        {17800, 15},
				"v2.autoscaling": {17500, 30},
				"v1.autoscaling": {17500, 15},
			},
		},
		{
			name:  "apiextensions comes from the CRD server's listed paths",
			paths: []string{"/apis/apiextensions.k8s.io/v1"},
			want:  map[string][2]int32{"v1.apiextensions.k8s.io": {16700, 15}},
		},
		{
			name:  "group versions without a priority are left to the CRD registration",
			paths: []string{"/apis/example.com/v1", "/apis/apps/v1/deployments"},
			want:  map[string][2]int32{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string][2]int32{}
			for _, svc := range builtinAPIServices(tc.paths) {
				if svc.Spec.Service != nil {
					t.Errorf("%s: built-in APIServices are local, got service %v", svc.Name, svc.Spec.Service)
				}
				if want := svc.Spec.Version + "." + svc.Spec.Group; svc.Name != want {
					t.Errorf("name %q, want %q", svc.Name, want)
				}
				got[svc.Name] = [2]int32{svc.Spec.GroupPriorityMinimum, svc.Spec.VersionPriority}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// Every group version skiff serves needs a priority, or it silently
// disappears from /apis and from routing behind the aggregator.
func TestEveryServedGroupVersionHasAPIServicePriority(t *testing.T) {
	served := append(slices.Clone(apis.ServedGroupVersions), apiextensionsv1.SchemeGroupVersion)
	for _, gv := range served {
		t.Run(gv.String(), func(t *testing.T) {
			if _, ok := builtinAPIServicePriorities[gv]; !ok {
				t.Errorf("no APIService priority for %v", gv)
			}
		})
	}
}

type recordingSyncer struct {
	added   map[string]*apiregistrationv1.APIService
	removed []string
}

func (r *recordingSyncer) AddAPIServiceToSync(in *apiregistrationv1.APIService) {
	r.added[in.Name] = in
}
func (r *recordingSyncer) RemoveAPIServiceToSync(name string) { r.removed = append(r.removed, name) }

func crd(name, group string, versions map[string]bool) *apiextensionsv1.CustomResourceDefinition {
	c := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: apiextensionsv1.CustomResourceDefinitionSpec{Group: group}}
	for v, served := range versions {
		c.Spec.Versions = append(c.Spec.Versions, apiextensionsv1.CustomResourceDefinitionVersion{Name: v, Served: served})
	}
	return c
}

func TestCRDRegistrationSync(t *testing.T) {
	tests := []struct {
		name        string
		crds        []*apiextensionsv1.CustomResourceDefinition
		gv          schema.GroupVersion
		wantAdded   bool
		wantRemoved bool
	}{
		{
			name:      "served version is registered",
			crds:      []*apiextensionsv1.CustomResourceDefinition{crd("widgets.example.com", "example.com", map[string]bool{"v1": true})},
			gv:        schema.GroupVersion{Group: "example.com", Version: "v1"},
			wantAdded: true,
		},
		{
			name:        "unserved version is removed",
			crds:        []*apiextensionsv1.CustomResourceDefinition{crd("widgets.example.com", "example.com", map[string]bool{"v1": true, "v1beta1": false})},
			gv:          schema.GroupVersion{Group: "example.com", Version: "v1beta1"},
			wantRemoved: true,
		},
		{
			name:        "deleted CRD is removed",
			gv:          schema.GroupVersion{Group: "example.com", Version: "v1"},
			wantRemoved: true,
		},
		{
			name: "another CRD of the group still serves the version",
			crds: []*apiextensionsv1.CustomResourceDefinition{
				crd("widgets.example.com", "example.com", map[string]bool{"v1": false}),
				crd("gadgets.example.com", "example.com", map[string]bool{"v1": true}),
			},
			gv:        schema.GroupVersion{Group: "example.com", Version: "v1"},
			wantAdded: true,
		},
		{
			name:        "same version in another group does not count",
			crds:        []*apiextensionsv1.CustomResourceDefinition{crd("widgets.other.io", "other.io", map[string]bool{"v1": true})},
			gv:          schema.GroupVersion{Group: "example.com", Version: "v1"},
			wantRemoved: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
			for _, c := range tc.crds {
				if err := indexer.Add(c); err != nil {
					t.Fatal(err)
				}
			}
			rec := &recordingSyncer{added: map[string]*apiregistrationv1.APIService{}}
			c := &crdRegistrationController{crds: crdlisters.NewCustomResourceDefinitionLister(indexer), apis: rec}
			if err := c.sync(tc.gv); err != nil {
				t.Fatal(err)
			}
			name := tc.gv.Version + "." + tc.gv.Group
			if svc, ok := rec.added[name]; ok != tc.wantAdded {
				t.Errorf("added=%v, want %v", ok, tc.wantAdded)
			} else if ok && (svc.Spec.GroupPriorityMinimum != 1000 || svc.Spec.VersionPriority != 100 || svc.Spec.Service != nil) {
				t.Errorf("unexpected spec %+v", svc.Spec)
			}
			if removed := slices.Contains(rec.removed, name); removed != tc.wantRemoved {
				t.Errorf("removed=%v, want %v", removed, tc.wantRemoved)
			}
		})
	}
}

func testCAPEM(t *testing.T, cn string, notAfter time.Time) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: notAfter.Add(-time.Hour), NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestAuthenticationInfoData(t *testing.T) {
	now := time.Now()
	a, b := testCAPEM(t, "a", now.Add(time.Hour)), testCAPEM(t, "b", now.Add(time.Hour))
	expired := testCAPEM(t, "old", now.Add(-time.Hour))
	own := authenticationInfo{
		clientCA: []byte(a), requestHeaderCA: []byte(b),
		usernames: []string{"X-Remote-User"}, groups: []string{"X-Remote-Group"},
		extras: []string{"X-Remote-Extra-"}, allowedNames: []string{"front-proxy-client"},
	}
	tests := []struct {
		name     string
		existing map[string]string
		own      authenticationInfo
		want     map[string]string
	}{
		{
			name:     "first publication",
			existing: nil,
			own:      own,
			want: map[string]string{
				"client-ca-file":                     a,
				"requestheader-client-ca-file":       b,
				"requestheader-username-headers":     `["X-Remote-User"]`,
				"requestheader-group-headers":        `["X-Remote-Group"]`,
				"requestheader-extra-headers-prefix": `["X-Remote-Extra-"]`,
				"requestheader-allowed-names":        `["front-proxy-client"]`,
			},
		},
		{
			name: "other servers' entries stay, duplicates and expired CAs go",
			existing: map[string]string{
				"client-ca-file":                     b + a + expired,
				"requestheader-client-ca-file":       b,
				"requestheader-username-headers":     `["X-Other-User","X-Remote-User"]`,
				"requestheader-group-headers":        `["X-Remote-Group"]`,
				"requestheader-extra-headers-prefix": `["X-Remote-Extra-"]`,
				"requestheader-allowed-names":        `["aggregator"]`,
			},
			own: own,
			want: map[string]string{
				"client-ca-file":                     b + a,
				"requestheader-client-ca-file":       b,
				"requestheader-username-headers":     `["X-Other-User","X-Remote-User"]`,
				"requestheader-group-headers":        `["X-Remote-Group"]`,
				"requestheader-extra-headers-prefix": `["X-Remote-Extra-"]`,
				"requestheader-allowed-names":        `["aggregator","front-proxy-client"]`,
			},
		},
		{
			name:     "no front-proxy CA means no request header keys",
			existing: nil,
			own:      authenticationInfo{clientCA: []byte(a), usernames: []string{"X-Remote-User"}},
			want:     map[string]string{"client-ca-file": a},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			existing, err := parseAuthenticationInfo(tc.existing)
			if err != nil {
				t.Fatal(err)
			}
			merged, err := mergeAuthenticationInfo(existing, tc.own, now)
			if err != nil {
				t.Fatal(err)
			}
			got, err := merged.configMapData()
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
}

// TestServerChain runs the whole server and checks what clients see of the
// aggregator in front of the built-in and CRD servers.
func TestServerChain(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := testConfig(t)
	started := time.Now()
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-runErr:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("server did not stop")
		}
	}()

	restConfig, err := clientcmd.BuildConfigFromFlags("", cfg.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(restConfig)
	waitReady(ctx, t, client, runErr)
	t.Logf("ready %v after New", time.Since(started))

	t.Run("readyz includes the aggregator's checks", func(t *testing.T) {
		body, err := client.CoreV1().RESTClient().Get().AbsPath("/readyz").Param("verbose", "true").DoRaw(ctx)
		if err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		for _, check := range []string{"autoregister-completion", "poststarthook/apiservice-registration-controller",
			"poststarthook/kube-apiserver-autoregistration", "poststarthook/start-cluster-authentication-info-controller"} {
			if !strings.Contains(string(body), "[+]"+check+" ok") {
				t.Errorf("readyz lacks %s:\n%s", check, body)
			}
		}
	})

	t.Run("built-in APIServices are local and available", func(t *testing.T) {
		rows := apiServiceRows(ctx, t, restConfig)
		for _, name := range []string{"v1.", "v1.apps", "v2.autoscaling", "v1.autoscaling", "v1.apiextensions.k8s.io"} {
			if got := rows[name]; got != [2]string{"Local", "True"} {
				t.Errorf("%s: SERVICE, AVAILABLE = %q, want Local, True", name, got)
			}
		}
	})

	t.Run("legacy /apis lists apiextensions.k8s.io", func(t *testing.T) {
		if groups := legacyGroups(t, restConfig); !slices.Contains(groups, "apiextensions.k8s.io") {
			t.Errorf("legacy /apis groups %v lack apiextensions.k8s.io", groups)
		}
	})

	crds := apiextensionsclient.NewForConfigOrDie(restConfig).ApiextensionsV1().CustomResourceDefinitions()
	if _, err := crds.Create(ctx, testCRD(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("a CRD gets a local APIService and a place in discovery", func(t *testing.T) {
		poll(ctx, t, "APIService v1.example.com", func() error {
			if got := apiServiceRows(ctx, t, restConfig)["v1.example.com"]; got != [2]string{"Local", "True"} {
				return fmt.Errorf("SERVICE, AVAILABLE = %q", got)
			}
			return nil
		})
		poll(ctx, t, "example.com in legacy /apis", func() error {
			if groups := legacyGroups(t, restConfig); !slices.Contains(groups, "example.com") {
				return fmt.Errorf("groups %v", groups)
			}
			return nil
		})
		poll(ctx, t, "example.com in aggregated discovery", func() error {
			dc := discovery.NewDiscoveryClientForConfigOrDie(restConfig)
			groups, err := dc.ServerGroups()
			if err != nil {
				return err
			}
			for _, g := range groups.Groups {
				if g.Name == "example.com" {
					return nil
				}
			}
			return errors.New("missing")
		})
		poll(ctx, t, "the CRD schema in /openapi/v3", func() error {
			body, err := client.CoreV1().RESTClient().Get().AbsPath("/openapi/v3/apis/example.com/v1").DoRaw(ctx)
			if err != nil {
				return err
			}
			if !strings.Contains(string(body), "com.example.v1.Widget") {
				return errors.New("no com.example.v1.Widget schema")
			}
			return nil
		})
	})

	t.Run("the APIService goes with its CRD", func(t *testing.T) {
		if err := crds.Delete(ctx, "widgets.example.com", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		poll(ctx, t, "APIService v1.example.com gone", func() error {
			if _, ok := apiServiceRows(ctx, t, restConfig)["v1.example.com"]; ok {
				return errors.New("still listed")
			}
			return nil
		})
	})

	t.Run("extension-apiserver-authentication is published", func(t *testing.T) {
		var cm map[string]string
		poll(ctx, t, "the ConfigMap", func() error {
			got, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, "extension-apiserver-authentication", metav1.GetOptions{})
			if err != nil {
				return err
			}
			cm = got.Data
			return nil
		})
		want := map[string]string{
			"requestheader-allowed-names":        `["front-proxy-client"]`,
			"requestheader-username-headers":     `["X-Remote-User"]`,
			"requestheader-group-headers":        `["X-Remote-Group"]`,
			"requestheader-extra-headers-prefix": `["X-Remote-Extra-"]`,
		}
		for k, v := range want {
			if cm[k] != v {
				t.Errorf("%s = %q, want %q", k, cm[k], v)
			}
		}
		for _, k := range []string{"client-ca-file", "requestheader-client-ca-file"} {
			if !strings.Contains(cm[k], "BEGIN CERTIFICATE") {
				t.Errorf("%s holds no certificate: %q", k, cm[k])
			}
		}
	})

	t.Run("an aggregated APIService is proxied to its Service", func(t *testing.T) {
		ext := startExtensionServer(t, cfg.AdvertiseAddress)
		apiregClient := apiregistrationclient.NewForConfigOrDie(restConfig).ApiregistrationV1().APIServices()
		createExtensionObjects(ctx, t, client, apiregClient, ext)
		poll(ctx, t, "v1.metrics.example.io available", func() error {
			if got := apiServiceRows(ctx, t, restConfig)["v1.metrics.example.io"]; got != [2]string{"default/ext", "True"} {
				return fmt.Errorf("SERVICE, AVAILABLE = %q", got)
			}
			return nil
		})
		code, body := rawGet(ctx, t, restConfig, "/apis/metrics.example.io/v1/namespaces/default/gadgets", nil)
		if code != http.StatusOK {
			t.Fatalf("status %d: %s", code, body)
		}
		// The extension server answers with who the front proxy said is
		// calling, having checked the front proxy's certificate.
		if !strings.Contains(body, `"user":"system:admin"`) || !strings.Contains(body, `"groups":["system:masters","system:authenticated"]`) {
			t.Errorf("extension server saw %s", body)
		}
		if groups := legacyGroups(t, restConfig); !slices.Contains(groups, "metrics.example.io") {
			t.Errorf("legacy /apis groups %v lack metrics.example.io", groups)
		}
		if err := apiregClient.Delete(ctx, "v1.metrics.example.io", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("the front proxy's X-Remote headers authenticate", func(t *testing.T) {
		files := cfg.frontProxyFiles()
		proxyConfig := rest.AnonymousClientConfig(restConfig)
		proxyConfig.TLSClientConfig.CertFile, proxyConfig.TLSClientConfig.KeyFile = files.certFile, files.keyFile
		tests := []struct {
			name    string
			headers map[string]string
			want    int
		}{
			{name: "system:masters member", headers: map[string]string{"X-Remote-User": "alice", "X-Remote-Group": "system:masters"}, want: http.StatusOK},
			{name: "plain user", headers: map[string]string{"X-Remote-User": "alice", "X-Remote-Group": "devs"}, want: http.StatusForbidden},
			{name: "no user header", headers: nil, want: http.StatusUnauthorized},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				code, body := rawGet(ctx, t, proxyConfig, "/api/v1/namespaces", tc.headers)
				if code != tc.want {
					t.Errorf("status %d, want %d: %s", code, tc.want, body)
				}
				if tc.want == http.StatusForbidden && !strings.Contains(body, `User \"alice\"`) {
					t.Errorf("forbidden for someone other than alice: %s", body)
				}
			})
		}
	})
}

func testConfig(t *testing.T) *Config {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	// The kubernetes Endpoints may not point at a loopback address.
	advertise, err := utilnet.ChooseHostInterface()
	if err != nil {
		t.Fatalf("finding a host address to advertise: %v", err)
	}
	_, serviceCIDR, _ := net.ParseCIDR("10.43.0.0/16")
	_, clusterCIDR, _ := net.ParseCIDR("10.42.0.0/16")
	return &Config{
		DataDir:          dir,
		BindAddress:      net.ParseIP("127.0.0.1"),
		HTTPSPort:        port,
		AdvertiseAddress: advertise,
		ServiceCIDR:      serviceCIDR,
		ClusterCIDR:      clusterCIDR,
		NodePortRange:    PortRange{Base: 30000, Size: 2768},
		KubeconfigPath:   filepath.Join(dir, "kubeconfig.yaml"),
		ClusterDomain:    "cluster.local",
	}
}

func waitReady(ctx context.Context, t *testing.T, client kubernetes.Interface, runErr <-chan error) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case err := <-runErr:
			return false, fmt.Errorf("server stopped: %w", err)
		default:
		}
		body, err := client.CoreV1().RESTClient().Get().AbsPath("/readyz").Param("verbose", "true").DoRaw(ctx)
		last = string(body)
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("server not ready: %v\n%s", err, last)
	}
}

func poll(ctx context.Context, t *testing.T, what string, f func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 15*time.Second, true, func(context.Context) (bool, error) {
		last = f()
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, last)
	}
}

// apiServiceRows is what `kubectl get apiservices` prints: the SERVICE and
// AVAILABLE cells of the server-side table, by name.
func apiServiceRows(ctx context.Context, t *testing.T, cfg *rest.Config) map[string][2]string {
	t.Helper()
	var table metav1.Table
	code, body := rawGet(ctx, t, cfg, "/apis/apiregistration.k8s.io/v1/apiservices",
		map[string]string{"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
	if code != http.StatusOK {
		t.Fatalf("listing APIServices: %d %s", code, body)
	}
	if err := json.Unmarshal([]byte(body), &table); err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range table.ColumnDefinitions {
		cols = append(cols, c.Name)
	}
	if !slices.Equal(cols, []string{"Name", "Service", "Available", "Age"}) {
		t.Fatalf("columns %v", cols)
	}
	rows := map[string][2]string{}
	for _, r := range table.Rows {
		rows[fmt.Sprint(r.Cells[0])] = [2]string{fmt.Sprint(r.Cells[1]), fmt.Sprint(r.Cells[2])}
	}
	return rows
}

func legacyGroups(t *testing.T, cfg *rest.Config) []string {
	t.Helper()
	dc := discovery.NewDiscoveryClientForConfigOrDie(cfg)
	dc.UseLegacyDiscovery = true
	list, err := dc.ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range list.Groups {
		names = append(names, g.Name)
	}
	return names
}

func rawGet(ctx context.Context, t *testing.T, cfg *rest.Config, path string, headers map[string]string) (int, string) {
	t.Helper()
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// startExtensionServer serves a minimal metrics.example.io/v1 API that only
// answers the front proxy, echoing the user it forwarded.
func startExtensionServer(t *testing.T, ip net.IP) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	ext := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != frontProxyClientName {
			http.Error(w, "not the front proxy", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/apis/metrics.example.io/v1":
			fmt.Fprint(w, `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"metrics.example.io/v1",`+
				`"resources":[{"name":"gadgets","singularName":"gadget","namespaced":true,"kind":"Gadget","verbs":["get","list"]}]}`)
		case "/apis/metrics.example.io/v1/namespaces/default/gadgets":
			seen, _ := json.Marshal(map[string]any{"user": r.Header.Get("X-Remote-User"), "groups": r.Header.Values("X-Remote-Group")})
			fmt.Fprintf(w, `{"kind":"GadgetList","apiVersion":"metrics.example.io/v1","metadata":{},"items":[],"seen":%s}`, seen)
		default:
			http.NotFound(w, r)
		}
	}))
	ext.Listener.Close()
	ext.Listener = l
	ext.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	ext.StartTLS()
	t.Cleanup(ext.Close)
	return ext
}

// createExtensionObjects points a headless Service at ext through an
// EndpointSlice and registers ext's group version as an APIService.
func createExtensionObjects(ctx context.Context, t *testing.T, client kubernetes.Interface,
	apiServices apiregistrationtyped.APIServiceInterface, ext *httptest.Server) {
	t.Helper()
	addr := ext.Listener.Addr().(*net.TCPAddr)
	port := int32(addr.Port)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "ext", Namespace: "default"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone,
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromInt32(port)}}},
	}
	if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "ext-1", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "ext"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{addr.IP.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	if addr.IP.To4() == nil {
		slice.AddressType = discoveryv1.AddressTypeIPv6
	}
	if _, err := client.DiscoveryV1().EndpointSlices("default").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apiService := &apiregistrationv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: "v1.metrics.example.io"},
		Spec: apiregistrationv1.APIServiceSpec{
			Group: "metrics.example.io", Version: "v1", GroupPriorityMinimum: 100, VersionPriority: 10,
			InsecureSkipTLSVerify: true,
			Service:               &apiregistrationv1.ServiceReference{Namespace: "default", Name: "ext", Port: ptr.To[int32](443)},
		},
	}
	if _, err := apiServices.Create(ctx, apiService, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func testCRD() *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "example.com",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: "Widget", ListKind: "WidgetList", Plural: "widgets", Singular: "widget"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"spec": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{"size": {Type: "integer"}}},
					},
				}},
			}},
		},
	}
}
