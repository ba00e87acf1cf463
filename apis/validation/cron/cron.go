// Package cron parses the standard five-field cron schedules of CronJobs and
// computes their activation times.
//
// Upstream Kubernetes uses github.com/robfig/cron/v3's ParseStandard, which
// is not in skiff's module graph. This package accepts the same language
// (fields, ranges, steps, month and weekday names, the @-descriptors, @every,
// and a leading TZ= or CRON_TZ= location) and reports errors with the same
// wording, so validation messages match upstream.
package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	// Zone names must resolve even on hosts without a zoneinfo database.
	_ "time/tzdata"
)

// Schedule yields the activation times of a cron schedule.
type Schedule interface {
	// Next returns the first activation time strictly after t, or the zero
	// time if there is none within five years.
	Next(t time.Time) time.Time
}

// SpecSchedule is a schedule given by fields; each field is a bit set of the
// values it allows, with starBit set when the field was "*" or "?".
type SpecSchedule struct {
	Second, Minute, Hour, Dom, Month, Dow uint64
	Location                              *time.Location
}

// ConstantDelaySchedule is the "@every <duration>" schedule.
type ConstantDelaySchedule struct {
	Delay time.Duration
}

type bounds struct {
	min, max uint
	names    map[string]uint
}

var (
	seconds = bounds{0, 59, nil}
	minutes = bounds{0, 59, nil}
	hours   = bounds{0, 23, nil}
	dom     = bounds{1, 31, nil}
	months  = bounds{1, 12, map[string]uint{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
	}}
	dow = bounds{0, 6, map[string]uint{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}}
)

const starBit = 1 << 63

// ParseStandard parses a five-field schedule ("minute hour dom month dow"),
// optionally prefixed by TZ=<zone> or CRON_TZ=<zone>, or a descriptor.
//
// Like upstream's parser, a location prefix without a following space makes
// it panic; callers that take user input must recover, as Kubernetes does.
func ParseStandard(spec string) (Schedule, error) {
	if len(spec) == 0 {
		return nil, fmt.Errorf("empty spec string")
	}
	loc := time.Local
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		i := strings.Index(spec, " ")
		eq := strings.Index(spec, "=")
		name := spec[eq+1 : i]
		var err error
		if loc, err = time.LoadLocation(name); err != nil {
			return nil, fmt.Errorf("provided bad location %s: %v", name, err)
		}
		spec = strings.TrimSpace(spec[i:])
	}
	if strings.HasPrefix(spec, "@") {
		return parseDescriptor(spec, loc)
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return nil, fmt.Errorf("expected exactly %d fields, found %d: %s", 5, len(fields), fields)
	}
	s := &SpecSchedule{Second: 1 << seconds.min, Location: loc}
	for _, f := range []struct {
		expr string
		b    bounds
		dst  *uint64
	}{
		{fields[0], minutes, &s.Minute},
		{fields[1], hours, &s.Hour},
		{fields[2], dom, &s.Dom},
		{fields[3], months, &s.Month},
		{fields[4], dow, &s.Dow},
	} {
		bits, err := getField(f.expr, f.b)
		if err != nil {
			return nil, err
		}
		*f.dst = bits
	}
	return s, nil
}

func getField(field string, r bounds) (uint64, error) {
	var bits uint64
	for _, expr := range strings.FieldsFunc(field, func(c rune) bool { return c == ',' }) {
		bit, err := getRange(expr, r)
		if err != nil {
			return bits, err
		}
		bits |= bit
	}
	return bits, nil
}

// getRange parses "*", "?", "a", "a-b", each optionally followed by "/step".
func getRange(expr string, r bounds) (uint64, error) {
	rangeAndStep := strings.Split(expr, "/")
	lowAndHigh := strings.Split(rangeAndStep[0], "-")
	singleDigit := len(lowAndHigh) == 1
	var start, end, step uint
	var extra uint64
	var err error
	if lowAndHigh[0] == "*" || lowAndHigh[0] == "?" {
		start, end, extra = r.min, r.max, starBit
	} else {
		if start, err = parseIntOrName(lowAndHigh[0], r.names); err != nil {
			return 0, err
		}
		switch len(lowAndHigh) {
		case 1:
			end = start
		case 2:
			if end, err = parseIntOrName(lowAndHigh[1], r.names); err != nil {
				return 0, err
			}
		default:
			return 0, fmt.Errorf("too many hyphens: %s", expr)
		}
	}
	switch len(rangeAndStep) {
	case 1:
		step = 1
	case 2:
		if step, err = mustParseInt(rangeAndStep[1]); err != nil {
			return 0, err
		}
		// "N/step" means "N-max/step".
		if singleDigit {
			end = r.max
		}
		if step > 1 {
			extra = 0
		}
	default:
		return 0, fmt.Errorf("too many slashes: %s", expr)
	}
	switch {
	case start < r.min:
		return 0, fmt.Errorf("beginning of range (%d) below minimum (%d): %s", start, r.min, expr)
	case end > r.max:
		return 0, fmt.Errorf("end of range (%d) above maximum (%d): %s", end, r.max, expr)
	case start > end:
		return 0, fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", start, end, expr)
	case step == 0:
		return 0, fmt.Errorf("step of range should be a positive number: %s", expr)
	}
	return getBits(start, end, step) | extra, nil
}

func parseIntOrName(expr string, names map[string]uint) (uint, error) {
	if n, ok := names[strings.ToLower(expr)]; ok {
		return n, nil
	}
	return mustParseInt(expr)
}

func mustParseInt(expr string) (uint, error) {
	num, err := strconv.Atoi(expr)
	if err != nil {
		return 0, fmt.Errorf("failed to parse int from %s: %s", expr, err)
	}
	if num < 0 {
		return 0, fmt.Errorf("negative number (%d) not allowed: %s", num, expr)
	}
	return uint(num), nil
}

func getBits(min, max, step uint) uint64 {
	var bits uint64
	if step == 1 {
		return ^(^uint64(0) << (max + 1)) & (^uint64(0) << min)
	}
	for i := min; i <= max; i += step {
		bits |= 1 << i
	}
	return bits
}

func all(r bounds) uint64 { return getBits(r.min, r.max, 1) | starBit }

func parseDescriptor(descriptor string, loc *time.Location) (Schedule, error) {
	first := func(r bounds) uint64 { return 1 << r.min }
	switch descriptor {
	case "@yearly", "@annually":
		return &SpecSchedule{Second: first(seconds), Minute: first(minutes), Hour: first(hours), Dom: first(dom), Month: first(months), Dow: all(dow), Location: loc}, nil
	case "@monthly":
		return &SpecSchedule{Second: first(seconds), Minute: first(minutes), Hour: first(hours), Dom: first(dom), Month: all(months), Dow: all(dow), Location: loc}, nil
	case "@weekly":
		return &SpecSchedule{Second: first(seconds), Minute: first(minutes), Hour: first(hours), Dom: all(dom), Month: all(months), Dow: first(dow), Location: loc}, nil
	case "@daily", "@midnight":
		return &SpecSchedule{Second: first(seconds), Minute: first(minutes), Hour: first(hours), Dom: all(dom), Month: all(months), Dow: all(dow), Location: loc}, nil
	case "@hourly":
		return &SpecSchedule{Second: first(seconds), Minute: first(minutes), Hour: all(hours), Dom: all(dom), Month: all(months), Dow: all(dow), Location: loc}, nil
	}
	const every = "@every "
	if strings.HasPrefix(descriptor, every) {
		d, err := time.ParseDuration(descriptor[len(every):])
		if err != nil {
			return nil, fmt.Errorf("failed to parse duration %s: %s", descriptor, err)
		}
		return Every(d), nil
	}
	return nil, fmt.Errorf("unrecognized descriptor: %s", descriptor)
}

// Every returns a schedule that fires every d, rounded down to whole seconds
// and at least one second.
func Every(d time.Duration) ConstantDelaySchedule {
	if d < time.Second {
		d = time.Second
	}
	return ConstantDelaySchedule{Delay: d - d%time.Second}
}

// Next rounds t down to the second and adds the delay.
func (c ConstantDelaySchedule) Next(t time.Time) time.Time {
	return t.Add(c.Delay - time.Duration(t.Nanosecond()))
}

// Next finds the next matching time by advancing the largest mismatching
// unit and starting over when a unit wraps, for up to five years.
func (s *SpecSchedule) Next(t time.Time) time.Time {
	origLocation := t.Location()
	loc := s.Location
	if loc == time.Local {
		loc = t.Location()
	}
	if s.Location != time.Local {
		t = t.In(s.Location)
	}
	t = t.Add(time.Second - time.Duration(t.Nanosecond()))
	added := false
	yearLimit := t.Year() + 5

wrap:
	if t.Year() > yearLimit {
		return time.Time{}
	}
	for 1<<uint(t.Month())&s.Month == 0 {
		if !added {
			added = true
			t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
		}
		t = t.AddDate(0, 1, 0)
		if t.Month() == time.January {
			goto wrap
		}
	}
	for !s.dayMatches(t) {
		if !added {
			added = true
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		}
		t = t.AddDate(0, 0, 1)
		// Daylight saving changes can move midnight; put it back.
		if t.Hour() != 0 {
			if t.Hour() > 12 {
				t = t.Add(time.Duration(24-t.Hour()) * time.Hour)
			} else {
				t = t.Add(time.Duration(-t.Hour()) * time.Hour)
			}
		}
		if t.Day() == 1 {
			goto wrap
		}
	}
	for 1<<uint(t.Hour())&s.Hour == 0 {
		if !added {
			added = true
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, loc)
		}
		t = t.Add(time.Hour)
		if t.Hour() == 0 {
			goto wrap
		}
	}
	for 1<<uint(t.Minute())&s.Minute == 0 {
		if !added {
			added = true
			t = t.Truncate(time.Minute)
		}
		t = t.Add(time.Minute)
		if t.Minute() == 0 {
			goto wrap
		}
	}
	for 1<<uint(t.Second())&s.Second == 0 {
		if !added {
			added = true
			t = t.Truncate(time.Second)
		}
		t = t.Add(time.Second)
		if t.Second() == 0 {
			goto wrap
		}
	}
	return t.In(origLocation)
}

// dayMatches applies cron's rule: when either day field is "*", both must
// match; otherwise either may.
func (s *SpecSchedule) dayMatches(t time.Time) bool {
	domMatch := 1<<uint(t.Day())&s.Dom > 0
	dowMatch := 1<<uint(t.Weekday())&s.Dow > 0
	if s.Dom&starBit > 0 || s.Dow&starBit > 0 {
		return domMatch && dowMatch
	}
	return domMatch || dowMatch
}
