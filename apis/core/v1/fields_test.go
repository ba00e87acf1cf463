package v1

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestFieldLabelConversions(t *testing.T) {
	s := runtime.NewScheme()
	if err := addFieldLabelConversions(s); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kind, label, wantLabel, wantErr string
	}{
		{kind: "Pod", label: "spec.nodeName", wantLabel: "spec.nodeName"},
		{kind: "Pod", label: "spec.host", wantLabel: "spec.nodeName"},
		{kind: "Pod", label: "status.podIPs", wantLabel: "status.podIPs"},
		{kind: "Pod", label: "spec.nodename", wantErr: "field label not supported: spec.nodename"},
		{kind: "Node", label: "spec.unschedulable", wantLabel: "spec.unschedulable"},
		{kind: "Node", label: "metadata.namespace", wantErr: "field label not supported: metadata.namespace"},
		{kind: "Event", label: "involvedObject.uid", wantLabel: "involvedObject.uid"},
		{kind: "Event", label: "reportingComponent", wantLabel: "reportingComponent"},
		{kind: "Namespace", label: "status.phase", wantLabel: "status.phase"},
		{kind: "Secret", label: "type", wantLabel: "type"},
		{kind: "Service", label: "spec.clusterIP", wantLabel: "spec.clusterIP"},
		{kind: "ReplicationController", label: "status.replicas", wantLabel: "status.replicas"},
		{kind: "ConfigMap", label: "data", wantErr: `"data" is not a known field selector: only "metadata.name", "metadata.namespace"`},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.label, func(t *testing.T) {
			for _, version := range []string{"v1", runtime.APIVersionInternal} {
				gvk := corev1.SchemeGroupVersion.WithKind(tt.kind)
				gvk.Version = version
				label, value, err := s.ConvertFieldLabel(gvk, tt.label, "x")
				if tt.wantErr != "" {
					if err == nil || err.Error() != tt.wantErr {
						t.Errorf("%s: err = %v, want %q", version, err, tt.wantErr)
					}
					continue
				}
				if err != nil || label != tt.wantLabel || value != "x" {
					t.Errorf("%s: got %q=%q, %v; want %q", version, label, value, err, tt.wantLabel)
				}
			}
		})
	}
}

func TestSelectableFields(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec:       corev1.PodSpec{NodeName: "n1", HostNetwork: true},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.42.0.5"}}},
	}
	event := &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "e", Namespace: "ns"},
		InvolvedObject:      corev1.ObjectReference{Kind: "Pod", Name: "p"},
		ReportingController: "kubelet",
	}
	tests := []struct {
		name     string
		set      fields.Set
		selector string
		match    bool
	}{
		{"pod by node", PodSelectableFields(pod), "spec.nodeName=n1,metadata.namespace=ns", true},
		{"pod by ip", PodSelectableFields(pod), "status.podIP=10.42.0.5", true},
		{"pod host network", PodSelectableFields(pod), "spec.hostNetwork=true,status.phase!=Pending", true},
		{"pod other node", PodSelectableFields(pod), "spec.nodeName=n2", false},
		{"event source falls back to reporter", EventSelectableFields(event), "source=kubelet,involvedObject.kind=Pod", true},
		{"node", NodeSelectableFields(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}), "spec.unschedulable=false,metadata.name=n", true},
		{"namespace legacy name", NamespaceSelectableFields(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}}), "name=a", true},
		{"secret type", SecretSelectableFields(&corev1.Secret{Type: corev1.SecretTypeTLS}), "type=kubernetes.io/tls", true},
		{"service", ServiceSelectableFields(&corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: "None"}}), "spec.clusterIP=None", true},
		{"rc replicas", ReplicationControllerSelectableFields(&corev1.ReplicationController{Status: corev1.ReplicationControllerStatus{Replicas: 3}}), "status.replicas=3", true},
		{"pv", PersistentVolumeSelectableFields(&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv"}}), "name=pv", true},
		{"pvc", PersistentVolumeClaimSelectableFields(&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"}}), "name=c,metadata.namespace=ns", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := fields.ParseSelector(tt.selector)
			if err != nil {
				t.Fatal(err)
			}
			if got := sel.Matches(tt.set); got != tt.match {
				t.Errorf("%q matches %v = %v, want %v", tt.selector, tt.set, got, tt.match)
			}
		})
	}
}
