package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/internal/testserver"
	"github.com/skiff-dev/skiff/server/bootstraptoken"
)

func TestPrintTokens(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tokens := []bootstraptoken.Token{
		{ID: "abcdef", Secret: "0123456789abcdef", Expires: now.Add(23*time.Hour + 59*time.Minute), Usages: []string{"signing", "authentication"},
			Groups: []string{bootstraptoken.DefaultGroup}, Description: "node a"},
		{ID: "ghijkl", Secret: "0123456789abcdef", Usages: []string{"signing"}},
		{ID: "mnopqr", Secret: "0123456789abcdef", Expires: now.Add(-time.Minute), Usages: []string{"authentication"}},
	}
	var out bytes.Buffer
	if err := printTokens(&out, tokens, now); err != nil {
		t.Fatal(err)
	}
	want := `TOKEN                     TTL         EXPIRES                USAGES                   DESCRIPTION   EXTRA GROUPS
abcdef.0123456789abcdef   23h         2026-11-23T11:59:00Z   authentication,signing   node a        system:bootstrappers:skiff:default-node-token
ghijkl.0123456789abcdef   <forever>   <never>                signing                  <none>        <none>
mnopqr.0123456789abcdef   <invalid>   2026-11-22T11:59:00Z   authentication           <none>        <none>
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestTokenLifecycle drives `skiff token` against a real server: a token
// it creates authenticates as a bootstrapper, shows in the list, and stops
// working once deleted or expired (when the token cleaner also removes it).
func TestTokenLifecycle(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	bin := s.Binary()
	skiff := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(t.Context(), bin, append(args, "--data-dir", s.DataDir())...).CombinedOutput()
		if err != nil {
			t.Fatalf("skiff %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	whoami := func(t *testing.T, token string) (*authenticationv1.SelfSubjectReview, error) {
		t.Helper()
		cfg, err := s.TokenConfig(token)
		if err != nil {
			t.Fatal(err)
		}
		return kubernetes.NewForConfigOrDie(cfg).AuthenticationV1().SelfSubjectReviews().Create(t.Context(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	}
	waitUnauthorized := func(t *testing.T, token string) {
		t.Helper()
		err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := whoami(t, token)
			return apierrors.IsUnauthorized(err), nil
		})
		if err != nil {
			t.Fatalf("token %s still authenticates", token)
		}
	}

	token := skiff(t, "token", "create", "--description", "test node")
	if !strings.Contains(token, ".") || len(token) != 23 {
		t.Fatalf("skiff token create printed %q, want a token", token)
	}
	var review *authenticationv1.SelfSubjectReview
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		review, err = whoami(t, token)
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("the new token never authenticated")
	}
	id, _, _ := strings.Cut(token, ".")
	if got := review.Status.UserInfo.Username; got != "system:bootstrap:"+id {
		t.Errorf("username %q", got)
	}
	if got := strings.Join(review.Status.UserInfo.Groups, ","); got != "system:bootstrappers,system:bootstrappers:skiff:default-node-token,system:authenticated" {
		t.Errorf("groups %q", got)
	}
	list := skiff(t, "token", "list")
	if !strings.Contains(list, token) || !strings.Contains(list, "test node") || !strings.Contains(list, "23h") {
		t.Errorf("token list:\n%s", list)
	}

	// A bootstrapper may ask for a certificate and nothing more.
	cfg, _ := s.TokenConfig(token)
	if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Secrets("kube-system").List(t.Context(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing secrets as a bootstrapper: %v, want Forbidden", err)
	}

	if out := skiff(t, "token", "delete", id); out != `bootstrap token "`+id+`" deleted` {
		t.Errorf("delete printed %q", out)
	}
	waitUnauthorized(t, token)

	short := skiff(t, "token", "create", "--ttl", "2s")
	if _, err := whoami(t, short); err != nil {
		// The informer may lag the create by a moment.
		time.Sleep(500 * time.Millisecond)
	}
	waitUnauthorized(t, short)
	err = wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		return !strings.Contains(skiff(t, "token", "list"), short), nil
	})
	if err != nil {
		t.Errorf("the expired token was never cleaned up")
	}

	out, err := exec.CommandContext(t.Context(), bin, "token", "create", "NOT-A-TOKEN", "--data-dir", s.DataDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `is not of the form "[a-z0-9]{6}.[a-z0-9]{16}"`) {
		t.Errorf("bad token: %v\n%s", err, out)
	}
}
