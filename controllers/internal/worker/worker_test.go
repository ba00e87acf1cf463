package worker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"
)

func TestLoopRetriesAndDrops(t *testing.T) {
	tests := []struct {
		name       string
		maxRetries int
		failures   int // how often sync fails before succeeding
		wantCalls  int
	}{
		{"success at once", 0, 0, 1},
		{"retried until it succeeds", 0, 3, 4},
		{"dropped after max retries", 2, 10, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			done := make(chan struct{})
			q := workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Millisecond, 10*time.Millisecond))
			l := &Loop{Name: "test", Queue: q, MaxRetries: tc.maxRetries, Sync: func(ctx context.Context, key string) error {
				mu.Lock()
				defer mu.Unlock()
				calls++
				if calls == tc.wantCalls {
					close(done)
				}
				if calls <= tc.failures {
					return errors.New("not yet")
				}
				return nil
			}}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			q.Add("k")
			go l.Run(ctx, 1)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("sync called %d times, want %d", calls, tc.wantCalls)
			}
			time.Sleep(100 * time.Millisecond) // no further calls may follow
			mu.Lock()
			defer mu.Unlock()
			if calls != tc.wantCalls {
				t.Errorf("sync called %d times, want %d", calls, tc.wantCalls)
			}
		})
	}
}
