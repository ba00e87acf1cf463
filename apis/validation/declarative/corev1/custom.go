package corev1

import (
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/api/operation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateCustom_EvictionResponder_Name backs +k8s:customValidation on
// EvictionResponder.Name: responder names in the Kubernetes domains are
// reserved for Kubernetes' own responders.
func ValidateCustom_EvictionResponder_Name(_ context.Context, _ operation.Operation, fldPath *field.Path, value, _ *string) field.ErrorList {
	if value == nil {
		return nil
	}
	domain := strings.TrimRight(strings.TrimSpace(strings.ToLower(strings.SplitN(*value, "/", 2)[0])), ".")
	for _, reserved := range []string{"k8s.io", "kubernetes.io"} {
		if domain == reserved || strings.HasSuffix(domain, "."+reserved) {
			return field.ErrorList{field.Invalid(fldPath, *value, "domain names *.k8s.io, *.kubernetes.io are reserved")}
		}
	}
	return nil
}

// ValidateCustom_EvictionResponder_Priority backs +k8s:customValidation on
// EvictionResponder.Priority: the lowest priorities belong to Kubernetes'
// own responders.
func ValidateCustom_EvictionResponder_Priority(_ context.Context, _ operation.Operation, fldPath *field.Path, value, _ *int32) field.ErrorList {
	if value != nil && *value >= 0 && *value < 1000 {
		return field.ErrorList{field.Invalid(fldPath, *value, "priorities 0-999 are reserved for responders with *.k8s.io suffix")}
	}
	return nil
}
