package bootstrapsigner

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// ComputeDetachedSignature is the detached compact JWS (HS256, kid = the
// token ID, keyed with the token secret) over content that kubeadm
// computes and checks: byte for byte what k8s.io/cluster-bootstrap's jws
// package makes, which skiff cannot import (its JOSE library is not among
// skiff's modules).
func ComputeDetachedSignature(content, tokenID, tokenSecret string) (string, error) {
	// Field order is go-jose's: its header is a map, marshalled sorted.
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}{"HS256", tokenID})
	if err != nil {
		return "", fmt.Errorf("can't serialize the JWS header: %w", err)
	}
	enc := base64.RawURLEncoding
	signingInput := enc.EncodeToString(header) + "." + enc.EncodeToString([]byte(content))
	mac := hmac.New(sha256.New, []byte(tokenSecret))
	mac.Write([]byte(signingInput))
	return enc.EncodeToString(header) + ".." + enc.EncodeToString(mac.Sum(nil)), nil
}

// DetachedTokenIsValid checks a detached signature of content against a
// token, as a joining node does.
func DetachedTokenIsValid(detached, content, tokenID, tokenSecret string) bool {
	sig, err := ComputeDetachedSignature(content, tokenID, tokenSecret)
	return err == nil && hmac.Equal([]byte(sig), []byte(detached))
}
