package serviceaccount

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	restful "github.com/emicklei/go-restful/v3"
	"k8s.io/klog/v2"
)

const (
	// OpenIDConfigPath is where the issuer's discovery document is served.
	OpenIDConfigPath = "/.well-known/openid-configuration"
	// JWKSPath is where the issuer's public keys are served.
	JWKSPath = "/openid/v1/jwks"

	mimeJWKS = "application/jwk-set+json"
	// discoveryMaxAge is how long clients may cache both documents: the
	// hour kube-apiserver gives keys from files.
	discoveryMaxAge = 3600
)

type openIDMetadata struct {
	Issuer        string   `json:"issuer"`
	JWKSURI       string   `json:"jwks_uri"`
	ResponseTypes []string `json:"response_types_supported"`
	SubjectTypes  []string `json:"subject_types_supported"`
	SigningAlgs   []string `json:"id_token_signing_alg_values_supported"`
}

// jwk is an RSA public key in go-jose's field order.
type jwk struct {
	Use string `json:"use,omitempty"`
	Kty string `json:"kty,omitempty"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

type jwks struct {
	Keys []jwk `json:"keys"`
}

// keySet is t's public key as a JSON Web Key Set.
func (t *Tokens) keySet() jwks {
	pub := &t.key.PublicKey
	e := make([]byte, 8)
	binary.BigEndian.PutUint64(e, uint64(pub.E))
	return jwks{Keys: []jwk{{
		Use: "sig",
		Kty: "RSA",
		Kid: t.keyID,
		Alg: "RS256",
		N:   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E:   base64.RawURLEncoding.EncodeToString(bytes.TrimLeft(e, "\x00")),
	}}}
}

// DiscoveryDocuments are the OpenID configuration and key set of t's issuer.
// jwksURI defaults to https://<externalAddress>/openid/v1/jwks.
func (t *Tokens) DiscoveryDocuments(jwksURI, externalAddress string) (config, keys []byte, err error) {
	iss, err := url.Parse(t.issuer)
	if err != nil {
		return nil, nil, err
	}
	if iss.Scheme != "https" {
		return nil, nil, fmt.Errorf("issuer URL must use https scheme, got: %s", t.issuer)
	}
	if jwksURI == "" {
		if externalAddress == "" {
			return nil, nil, fmt.Errorf("attempted to build jwks_uri from external address %s, but could not construct a valid URL. Error: %w", externalAddress, fmt.Errorf("empty address"))
		}
		jwksURI = (&url.URL{Scheme: "https", Host: externalAddress, Path: JWKSPath}).String()
	}
	config, err = json.Marshal(openIDMetadata{
		Issuer:        t.issuer,
		JWKSURI:       jwksURI,
		ResponseTypes: []string{"id_token"},
		SubjectTypes:  []string{"public"},
		SigningAlgs:   []string{"RS256"},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("failed to marshal service account issuer metadata: %w", err)
	}
	keys, err = json.Marshal(t.keySet())
	if err != nil {
		return nil, nil, fmt.Errorf("failed to marshal service account issuer JWKS: %w", err)
	}
	return config, keys, nil
}

// InstallDiscovery serves the issuer's discovery document and key set on c,
// as kube-apiserver does (so they appear in its OpenAPI too). Who may read
// them is RBAC's business: system:service-account-issuer-discovery.
func (t *Tokens) InstallDiscovery(c *restful.Container, externalAddress string) error {
	config, keys, err := t.DiscoveryDocuments("", externalAddress)
	if err != nil {
		return err
	}
	cfg := new(restful.WebService).Produces(restful.MIME_JSON)
	cfg.Path(OpenIDConfigPath).Route(cfg.GET("").
		To(serve(config, restful.MIME_JSON)).
		Doc("get service account issuer OpenID configuration, also known as the 'OIDC discovery doc'").
		Operation("getServiceAccountIssuerOpenIDConfiguration").
		Returns(http.StatusOK, "OK", ""))
	c.Add(cfg)

	ks := new(restful.WebService).Produces(mimeJWKS)
	ks.Path(JWKSPath).Route(ks.GET("").
		To(serve(keys, mimeJWKS)).
		Doc("get service account issuer OpenID JSON Web Key Set (contains public token verification keys)").
		Operation("getServiceAccountIssuerOpenIDKeyset").
		Returns(http.StatusOK, "OK", ""))
	c.Add(ks)
	return nil
}

func serve(body []byte, contentType string) restful.RouteFunction {
	return func(_ *restful.Request, resp *restful.Response) {
		resp.Header().Set(restful.HEADER_ContentType, contentType)
		resp.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", discoveryMaxAge))
		if _, err := resp.Write(body); err != nil {
			klog.ErrorS(err, "Failed to write service account issuer discovery response")
		}
	}
}
