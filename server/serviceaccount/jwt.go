package serviceaccount

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// errCryptoFailure is what a signature that does not verify reports, in
// go-jose's words, which kube-apiserver logs.
var errCryptoFailure = errors.New("go-jose/go-jose: error in cryptographic primitive")

// keyID names a public key as kube-apiserver does: the unpadded base64url
// SHA-256 of its PKIX DER form, so the kid of a token matches the JWKS entry.
func keyID(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("failed to serialize public key to DER format: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

type jwsHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid,omitempty"`
}

// sign serialises the merged claim sets as a compact RS256 JWS. Each claim
// set is a JSON object; later sets win on a shared key. The payload's keys
// come out sorted at every depth, the shape go-jose gives upstream's tokens.
func sign(key *rsa.PrivateKey, kid string, claimSets ...any) (string, error) {
	merged := map[string]any{}
	for _, c := range claimSets {
		raw, err := json.Marshal(c)
		if err != nil {
			return "", fmt.Errorf("encoding claims: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return "", fmt.Errorf("encoding claims: %w", err)
		}
		for k, v := range m {
			merged[k] = v
		}
	}
	payload, err := json.Marshal(merged)
	if err != nil {
		return "", fmt.Errorf("encoding claims: %w", err)
	}
	header, err := json.Marshal(jwsHeader{Alg: "RS256", Kid: kid})
	if err != nil {
		return "", err
	}
	signingInput := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// parsedJWS is a compact JWS split into its parts, not yet verified.
type parsedJWS struct {
	header       jwsHeader
	payload      []byte
	signingInput string
	signature    []byte
}

// parseJWS splits a compact RS256 JWS; anything else is not a token this
// package issued.
func parseJWS(token string) (*parsedJWS, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("compact JWS format must have three parts")
	}
	rawHeader, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("decoding JWS header: %w", err)
	}
	var h jwsHeader
	if err := json.Unmarshal(rawHeader, &h); err != nil {
		return nil, fmt.Errorf("decoding JWS header: %w", err)
	}
	if h.Alg != "RS256" {
		return nil, fmt.Errorf("unexpected signature algorithm %q", h.Alg)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("decoding JWS payload: %w", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("decoding JWS signature: %w", err)
	}
	return &parsedJWS{header: h, payload: payload, signingInput: parts[0] + "." + parts[1], signature: sig}, nil
}

func (p *parsedJWS) verify(pub *rsa.PublicKey) error {
	digest := sha256.Sum256([]byte(p.signingInput))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], p.signature); err != nil {
		return errCryptoFailure
	}
	return nil
}

// issuerOf reads the iss claim without verifying anything, to pick the
// authenticator a token is meant for.
func issuerOf(token string) (string, bool) {
	if strings.HasPrefix(strings.TrimSpace(token), "{") {
		return "", false
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", false
	}
	return c.Issuer, true
}
