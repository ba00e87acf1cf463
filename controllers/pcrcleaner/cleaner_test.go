package pcrcleaner

import (
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestClean: a request goes once older than the threshold, whatever its
// state.
func TestClean(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		age     time.Duration
		deleted bool
	}{
		{"fresh", time.Minute, false},
		{"just under", DefaultThreshold - time.Second, false},
		{"at the threshold", DefaultThreshold, true},
		{"old", time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pcr := &certificatesv1.PodCertificateRequest{ObjectMeta: metav1.ObjectMeta{
				Name: "pcr", Namespace: "ns", UID: "u", CreationTimestamp: metav1.NewTime(now.Add(-tt.age)),
			}}
			client := fake.NewClientset(pcr)
			inf := informers.NewSharedInformerFactory(client, 0).Certificates().V1().PodCertificateRequests()
			if err := inf.Informer().GetIndexer().Add(pcr); err != nil {
				t.Fatal(err)
			}
			New(client, inf, clocktesting.NewFakePassiveClock(now), DefaultThreshold, DefaultPollingInterval).CleanAll(t.Context())
			_, err := client.CertificatesV1().PodCertificateRequests("ns").Get(t.Context(), "pcr", metav1.GetOptions{})
			if gone := err != nil; gone != tt.deleted {
				t.Errorf("deleted %v, want %v", gone, tt.deleted)
			}
		})
	}
}
