package legacysatokencleaner_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/skiff-dev/skiff/controllers/legacysatokencleaner"
	"github.com/skiff-dev/skiff/internal/testserver"
)

// TestTrackingRecord: a new server records, as kube-apiserver does, that
// it tracks legacy token use from today, which is where the cleaner's
// year of grace starts.
func TestTrackingRecord(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	client, err := s.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	var since string
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		cm, err := client.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, legacysatokencleaner.TrackingConfigMap, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		since = cm.Data[legacysatokencleaner.TrackingSinceKey]
		return true, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", legacysatokencleaner.TrackingConfigMap, err)
	}
	today := time.Now().UTC()
	if since != today.Format(time.DateOnly) && since != today.Add(-time.Minute).Format(time.DateOnly) {
		t.Errorf("since = %q, want today, %s", since, today.Format(time.DateOnly))
	}
}
