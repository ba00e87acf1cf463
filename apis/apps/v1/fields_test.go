package v1

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestReplicaSetSelectableFields(t *testing.T) {
	set := ReplicaSetSelectableFields(&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "n"}, Status: appsv1.ReplicaSetStatus{Replicas: 3}})
	if set["status.replicas"] != "3" || set["metadata.name"] != "r" || set["metadata.namespace"] != "n" {
		t.Errorf("field set %v", set)
	}
}

func TestStatefulSetExplicitRollingUpdate(t *testing.T) {
	// An explicit RollingUpdate type without parameters keeps none, as in
	// Kubernetes; only an unset type brings default parameters.
	ss := &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}}}
	SetObjectDefaults_StatefulSet(ss)
	if ss.Spec.UpdateStrategy.RollingUpdate != nil {
		t.Errorf("rollingUpdate %+v", ss.Spec.UpdateStrategy.RollingUpdate)
	}
	ss = &appsv1.StatefulSet{}
	SetObjectDefaults_StatefulSet(ss)
	if ru := ss.Spec.UpdateStrategy.RollingUpdate; ru == nil || *ru.Partition != 0 || *ru.MaxUnavailable != intstr.FromInt32(1) {
		t.Errorf("rollingUpdate %+v", ru)
	}
}

func TestDeploymentRecreateHasNoRollingUpdate(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}}}
	SetObjectDefaults_Deployment(d)
	if d.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("rollingUpdate %+v on Recreate", d.Spec.Strategy.RollingUpdate)
	}
}
