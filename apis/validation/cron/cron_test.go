package cron

import (
	"testing"
	"time"
)

func TestParseStandardErrors(t *testing.T) {
	tests := []struct {
		spec string
		want string
	}{
		{"", "empty spec string"},
		{"* * * *", "expected exactly 5 fields, found 4: [* * * *]"},
		{"60 * * * *", "end of range (60) above maximum (59): 60"},
		{"* * 0 * *", "beginning of range (0) below minimum (1): 0"},
		{"5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"},
		{"x * * * *", `failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax`},
		{"*/0 * * * *", "step of range should be a positive number: */0"},
		{"1-2-3 * * * *", "too many hyphens: 1-2-3"},
		{"1/2/3 * * * *", "too many slashes: 1/2/3"},
		{"@sometimes", "unrecognized descriptor: @sometimes"},
		{"@every x", `failed to parse duration @every x: time: invalid duration "x"`},
		{"TZ=Nowhere/Land * * * * *", "provided bad location Nowhere/Land: unknown time zone Nowhere/Land"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := ParseStandard(tc.spec)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseStandardPanicsLikeUpstream(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("expected a panic for a location without a schedule")
		}
	}()
	_, _ = ParseStandard("TZ=0")
}

func TestNext(t *testing.T) {
	start := time.Date(2026, 3, 14, 10, 17, 30, 500, time.UTC)
	tests := []struct {
		spec string
		want time.Time
	}{
		{"*/5 * * * *", time.Date(2026, 3, 14, 10, 20, 0, 0, time.UTC)},
		{"0 0 * * *", time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)},
		{"30 9 * * mon-fri", time.Date(2026, 3, 16, 9, 30, 0, 0, time.UTC)},
		{"0 12 1 JAN *", time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)},
		{"@hourly", time.Date(2026, 3, 14, 11, 0, 0, 0, time.UTC)},
		{"@every 90s", time.Date(2026, 3, 14, 10, 19, 0, 0, time.UTC)},
		{"0 0 30 2 *", time.Time{}},
		{"CRON_TZ=Asia/Tokyo 0 0 * * *", time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := ParseStandard(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Next(start); !got.Equal(tc.want) {
				t.Fatalf("Next = %v, want %v", got, tc.want)
			}
		})
	}
}
