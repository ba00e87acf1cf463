package cronjob

import (
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/apis/validation/cron"
)

// nextScheduleDelta is added to requeues at a schedule time so that the
// sync comes just after it, never just before.
const nextScheduleDelta = 100 * time.Millisecond

type missedSchedules int

const (
	noneMissed missedSchedules = iota
	fewMissed
	manyMissed
)

// parseSchedule parses like upstream's ParseCronScheduleWithPanicRecovery:
// a malformed TZ= prefix panics in the parser and becomes an error here.
func parseSchedule(spec string) (sched cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("invalid schedule format: %v", r)
		}
	}()
	return cron.ParseStandard(spec)
}

// formatSchedule puts spec.timeZone in front of the schedule, unless the
// schedule carries its own (unsupported) TZ, which wins and is warned
// about.
func formatSchedule(cj *batchv1.CronJob, recorder record.EventRecorder) string {
	if strings.Contains(cj.Spec.Schedule, "TZ") {
		if recorder != nil {
			recorder.Eventf(cj, corev1.EventTypeWarning, "UnsupportedSchedule", "CRON_TZ or TZ used in schedule %q is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details", cj.Spec.Schedule)
		}
		return cj.Spec.Schedule
	}
	if cj.Spec.TimeZone != nil {
		if _, err := time.LoadLocation(*cj.Spec.TimeZone); err != nil {
			return cj.Spec.Schedule
		}
		return fmt.Sprintf("TZ=%s %s", *cj.Spec.TimeZone, cj.Spec.Schedule)
	}
	return cj.Spec.Schedule
}

// mostRecentScheduleTime returns the earliest time considered, the latest
// schedule time in (earliest, now], and how many were missed. Earliest is
// the last schedule time, else creation, moved up to now minus
// startingDeadlineSeconds when asked to.
func mostRecentScheduleTime(cj *batchv1.CronJob, now time.Time, sched cron.Schedule, includeStartingDeadline bool) (time.Time, *time.Time, missedSchedules, error) {
	earliest := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		earliest = cj.Status.LastScheduleTime.Time
	}
	if includeStartingDeadline && cj.Spec.StartingDeadlineSeconds != nil {
		deadline := now.Add(-time.Second * time.Duration(*cj.Spec.StartingDeadlineSeconds))
		if deadline.After(earliest) {
			earliest = deadline
		}
	}
	t1 := sched.Next(earliest)
	t2 := sched.Next(t1)
	if now.Before(t1) {
		return earliest, nil, noneMissed, nil
	}
	if now.Before(t2) {
		return earliest, &t1, noneMissed, nil
	}
	// Jump close to now instead of walking every missed time, assuming an
	// even period; the walk then corrects for uneven schedules.
	period := int64(t2.Sub(t1).Round(time.Second).Seconds())
	if period < 1 {
		return earliest, nil, noneMissed, fmt.Errorf("time difference between two schedules is less than 1 second")
	}
	missedCount := int64(now.Sub(t1).Seconds())/period + 1
	var mostRecent time.Time
	potentialEarliest := t1.Add(time.Duration((missedCount-2)*period) * time.Second)
	for t := sched.Next(potentialEarliest); !t.After(now); t = sched.Next(t) {
		mostRecent = t
	}
	missed := fewMissed
	if missedCount > 100 {
		missed = manyMissed
	}
	if mostRecent.IsZero() {
		return earliest, nil, missed, nil
	}
	return earliest, &mostRecent, missed, nil
}

// nextScheduleTimeDuration is how long until just after the next schedule
// time.
func nextScheduleTimeDuration(cj *batchv1.CronJob, now time.Time, sched cron.Schedule) time.Duration {
	earliest, mostRecent, missed, err := mostRecentScheduleTime(cj, now, sched, false)
	switch {
	case err != nil:
		mostRecent = &now
	case mostRecent == nil && missed == noneMissed:
		mostRecent = &earliest
	case mostRecent == nil:
		mostRecent = &now
	}
	return sched.Next(*mostRecent).Add(nextScheduleDelta).Sub(now)
}

// nextScheduleTime returns the schedule time to start a Job for now, if
// any, warning when more than 100 were missed.
func nextScheduleTime(logger klog.Logger, cj *batchv1.CronJob, now time.Time, sched cron.Schedule, recorder record.EventRecorder) (*time.Time, error) {
	_, mostRecent, missed, err := mostRecentScheduleTime(cj, now, sched, true)
	if mostRecent == nil || mostRecent.After(now) {
		return nil, err
	}
	if missed == manyMissed {
		recorder.Eventf(cj, corev1.EventTypeWarning, "TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
		logger.Info("too many missed times", "cronjob", klog.KObj(cj))
	}
	return mostRecent, err
}
