package bootstraptoken

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	bootstrapsecret "k8s.io/cluster-bootstrap/util/secrets"
)

const (
	// DefaultTTL is how long a token lives unless asked otherwise, as with
	// kubeadm.
	DefaultTTL = 24 * time.Hour
	// DefaultGroup is the extra group skiff's node tokens carry; the
	// bindings that let a joining node ask for its certificate name it.
	DefaultGroup = "system:bootstrappers:skiff:default-node-token"
)

// DefaultUsages are the usages a token gets unless asked otherwise.
var DefaultUsages = []string{"signing", "authentication"}

// Options describe a token to create.
type Options struct {
	// Token is the token to store; empty makes a random one.
	Token string
	// TTL is the token's lifetime; 0 means it never expires.
	TTL         time.Duration
	Description string
	Usages      []string
	// Groups are extra groups beyond system:bootstrappers.
	Groups []string
}

// Token is a bootstrap token as read back from its secret.
type Token struct {
	ID          string
	Secret      string
	Description string
	// Expires is zero for a token that never expires.
	Expires time.Time
	Usages  []string
	Groups  []string
}

// String is the token a client presents, id.secret.
func (t Token) String() string { return bootstraputil.TokenFromIDAndSecret(t.ID, t.Secret) }

// Create stores a new token and returns it.
func Create(ctx context.Context, client kubernetes.Interface, o Options, now time.Time) (Token, error) {
	if o.Token == "" {
		t, err := bootstraputil.GenerateBootstrapToken()
		if err != nil {
			return Token{}, err
		}
		o.Token = t
	}
	if !bootstraputil.IsValidBootstrapToken(o.Token) {
		return Token{}, fmt.Errorf("token %q is not of the form %q", o.Token, "[a-z0-9]{6}.[a-z0-9]{16}")
	}
	if o.TTL < 0 {
		return Token{}, fmt.Errorf("the TTL must not be negative, got %s", o.TTL)
	}
	if err := bootstraputil.ValidateUsages(o.Usages); err != nil {
		return Token{}, err
	}
	for _, g := range o.Groups {
		if err := bootstraputil.ValidateBootstrapGroupName(g); err != nil {
			return Token{}, err
		}
	}
	if len(o.Groups) > 0 && !slices.Contains(o.Usages, "authentication") {
		return Token{}, fmt.Errorf("extra groups need the authentication usage")
	}
	id, secretPart, _ := strings.Cut(o.Token, ".")
	t := Token{ID: id, Secret: secretPart, Description: o.Description, Usages: o.Usages, Groups: o.Groups}
	if o.TTL > 0 {
		t.Expires = now.Add(o.TTL).UTC().Truncate(time.Second)
	}
	_, err := client.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, t.secret(), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return Token{}, fmt.Errorf("a bootstrap token with ID %q already exists", id)
	}
	if err != nil {
		return Token{}, fmt.Errorf("storing bootstrap token %q: %w", id, err)
	}
	return t, nil
}

func (t Token) secret() *corev1.Secret {
	data := map[string][]byte{
		bootstrapapi.BootstrapTokenIDKey:     []byte(t.ID),
		bootstrapapi.BootstrapTokenSecretKey: []byte(t.Secret),
	}
	if t.Description != "" {
		data[bootstrapapi.BootstrapTokenDescriptionKey] = []byte(t.Description)
	}
	if !t.Expires.IsZero() {
		data[bootstrapapi.BootstrapTokenExpirationKey] = []byte(t.Expires.Format(time.RFC3339))
	}
	for _, u := range t.Usages {
		data[bootstrapapi.BootstrapTokenUsagePrefix+u] = []byte("true")
	}
	if len(t.Groups) > 0 {
		data[bootstrapapi.BootstrapTokenExtraGroupsKey] = []byte(strings.Join(t.Groups, ","))
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: bootstraputil.BootstrapTokenSecretName(t.ID), Namespace: metav1.NamespaceSystem},
		Type:       bootstrapapi.SecretTypeBootstrapToken,
		Data:       data,
	}
}

// List returns every bootstrap token, in ID order. Secrets of the type
// that are not valid tokens are skipped, as kubeadm does.
func List(ctx context.Context, client kubernetes.Interface) ([]Token, error) {
	list, err := client.CoreV1().Secrets(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("type", string(bootstrapapi.SecretTypeBootstrapToken)).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("listing bootstrap tokens: %w", err)
	}
	var out []Token
	for i := range list.Items {
		if t, ok := fromSecret(&list.Items[i]); ok {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Token) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func fromSecret(s *corev1.Secret) (Token, bool) {
	id, ok := bootstrapsecret.ParseName(s.Name)
	if !ok || s.Type != bootstrapapi.SecretTypeBootstrapToken || bootstrapsecret.GetData(s, bootstrapapi.BootstrapTokenIDKey) != id {
		return Token{}, false
	}
	t := Token{
		ID:          id,
		Secret:      bootstrapsecret.GetData(s, bootstrapapi.BootstrapTokenSecretKey),
		Description: bootstrapsecret.GetData(s, bootstrapapi.BootstrapTokenDescriptionKey),
	}
	if !bootstraputil.IsValidBootstrapToken(t.String()) {
		return Token{}, false
	}
	if exp := bootstrapsecret.GetData(s, bootstrapapi.BootstrapTokenExpirationKey); exp != "" {
		e, err := time.Parse(time.RFC3339, exp)
		if err != nil {
			return Token{}, false
		}
		t.Expires = e
	}
	for _, u := range bootstrapapi.KnownTokenUsages {
		if bootstrapsecret.GetData(s, bootstrapapi.BootstrapTokenUsagePrefix+u) == "true" {
			t.Usages = append(t.Usages, u)
		}
	}
	if g := bootstrapsecret.GetData(s, bootstrapapi.BootstrapTokenExtraGroupsKey); g != "" {
		t.Groups = strings.Split(g, ",")
	}
	return t, true
}

// Delete removes the token named by its ID or by the whole token, and
// returns the ID it deleted.
func Delete(ctx context.Context, client kubernetes.Interface, idOrToken string) (string, error) {
	id := idOrToken
	if bootstraputil.IsValidBootstrapToken(idOrToken) {
		id, _, _ = strings.Cut(idOrToken, ".")
	} else if !bootstraputil.IsValidBootstrapTokenID(idOrToken) {
		return "", fmt.Errorf("%q is neither a bootstrap token ID ([a-z0-9]{6}) nor a token ([a-z0-9]{6}.[a-z0-9]{16})", idOrToken)
	}
	err := client.CoreV1().Secrets(metav1.NamespaceSystem).Delete(ctx, bootstraputil.BootstrapTokenSecretName(id), metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("bootstrap token %q not found", id)
	}
	if err != nil {
		return "", fmt.Errorf("deleting bootstrap token %q: %w", id, err)
	}
	return id, nil
}
