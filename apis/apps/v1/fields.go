package v1

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/skiff-dev/skiff/apis/internal/fieldlabel"
)

// ReplicaSetSelectableFields is the field set a field selector on replica
// sets matches. As in Kubernetes, apps/v1 registers no field-label
// conversion, so selectors may only name metadata.name and
// metadata.namespace; status.replicas is in the set all the same.
func ReplicaSetSelectableFields(rs *appsv1.ReplicaSet) fields.Set {
	return fieldlabel.With(&rs.ObjectMeta, true, fields.Set{
		"status.replicas": strconv.Itoa(int(rs.Status.Replicas)),
	})
}
