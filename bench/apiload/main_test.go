package main

import (
	"testing"
	"time"
)

func TestRequireLoopback(t *testing.T) {
	for host, ok := range map[string]bool{
		"https://127.0.0.1:6443":   true,
		"https://127.5.0.1:6443":   true,
		"https://localhost:16540":  true,
		"https://[::1]:6443":       true,
		"https://10.0.0.1:6443":    false,
		"https://192.168.1.2:6443": false,
		"https://example.com":      false,
	} {
		if err := requireLoopback(host); (err == nil) != ok {
			t.Errorf("requireLoopback(%s) = %v, want allowed %v", host, err, ok)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    int
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {1, time.Millisecond}} {
		if got := percentile(d, tc.p); got != tc.want {
			t.Errorf("p%d = %s, want %s", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %s", got)
	}
}
