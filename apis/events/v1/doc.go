// Package v1 converts events.k8s.io/v1 Events to and from core/v1 Events,
// which is how Kubernetes stores both (the two resources share one storage
// location), and lists the field labels events.k8s.io field selectors
// accept. events.k8s.io/v1 has no defaults.
package v1
