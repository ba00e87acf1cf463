package v1

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestEventConversion(t *testing.T) {
	first, last := metav1.Unix(100, 0), metav1.Unix(200, 0)
	observed := metav1.NewMicroTime(last.Time)
	ref := corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: "web-0", UID: "u1", APIVersion: "v1", FieldPath: "spec.containers{app}"}
	core := corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "web-0.1", Namespace: "ns"},
		InvolvedObject:      ref,
		Reason:              "BackOff",
		Message:             "Back-off restarting failed container",
		Source:              corev1.EventSource{Component: "kubelet", Host: "node-1"},
		FirstTimestamp:      first,
		LastTimestamp:       last,
		Count:               5,
		Type:                corev1.EventTypeWarning,
		EventTime:           metav1.NewMicroTime(first.Time),
		Series:              &corev1.EventSeries{Count: 4, LastObservedTime: observed},
		Action:              "Restarting",
		Related:             &corev1.ObjectReference{Kind: "Node", Name: "node-1"},
		ReportingController: "kubelet",
		ReportingInstance:   "kubelet-node-1",
	}
	events := eventsv1.Event{
		ObjectMeta:               core.ObjectMeta,
		EventTime:                core.EventTime,
		Series:                   &eventsv1.EventSeries{Count: 4, LastObservedTime: observed},
		ReportingController:      "kubelet",
		ReportingInstance:        "kubelet-node-1",
		Action:                   "Restarting",
		Reason:                   "BackOff",
		Regarding:                ref,
		Related:                  core.Related,
		Note:                     core.Message,
		Type:                     corev1.EventTypeWarning,
		DeprecatedSource:         core.Source,
		DeprecatedFirstTimestamp: first,
		DeprecatedLastTimestamp:  last,
		DeprecatedCount:          5,
	}

	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	t.Run("core to events", func(t *testing.T) {
		var got eventsv1.Event
		if err := s.Convert(&core, &got, nil); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(events, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("events to core", func(t *testing.T) {
		var got corev1.Event
		if err := s.Convert(&events, &got, nil); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(core, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("lists", func(t *testing.T) {
		var coreList corev1.EventList
		in := eventsv1.EventList{ListMeta: metav1.ListMeta{ResourceVersion: "9"}, Items: []eventsv1.Event{events}}
		if err := s.Convert(&in, &coreList, nil); err != nil {
			t.Fatal(err)
		}
		var back eventsv1.EventList
		if err := s.Convert(&coreList, &back, nil); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(in, back); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	})
}

func TestEventFieldLabels(t *testing.T) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	gvk := eventsv1.SchemeGroupVersion.WithKind("Event")
	tests := []struct{ label, want, wantErr string }{
		{label: "regarding.name", want: "involvedObject.name"},
		{label: "regarding.fieldPath", want: "involvedObject.fieldPath"},
		{label: "reportingController", want: "reportingComponent"},
		{label: "type", want: "type"},
		{label: "involvedObject.name", wantErr: "field label not supported: involvedObject.name"},
		{label: "source", wantErr: "field label not supported: source"},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			got, _, err := s.ConvertFieldLabel(gvk, tt.label, "v")
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
