package endpointslicemirroring

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	endpointsliceutil "k8s.io/endpointslice/util"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"

	"github.com/skiff-dev/skiff/controllers/endpoints"
)

// Event reasons, upstream's.
const (
	reasonInvalidIPAddress         = "InvalidIPAddress"
	reasonTooManyAddressesToMirror = "TooManyAddressesToMirror"
)

// reconciler turns one Endpoints into its mirrored slices: one slice per
// address type and set of ports, each holding at most maxPerSubset
// endpoints.
type reconciler struct {
	client       kubernetes.Interface
	tracker      *endpointsliceutil.EndpointSliceTracker
	recorder     record.EventRecorder
	maxPerSubset int
}

// sliceKey identifies a slice by address type and ports.
type sliceKey string

func newSliceKey(ports []discoveryv1.EndpointPort, addrType discoveryv1.AddressType) sliceKey {
	return sliceKey(fmt.Sprintf("%s-%s", addrType, endpointsliceutil.NewPortMapKey(ports)))
}

func (k sliceKey) addressType() discoveryv1.AddressType {
	if strings.HasPrefix(string(k), string(discoveryv1.AddressTypeIPv6)) {
		return discoveryv1.AddressTypeIPv6
	}
	return discoveryv1.AddressTypeIPv4
}

// desired is the endpoints and ports each slice key should have.
type desired struct {
	ports     map[sliceKey][]discoveryv1.EndpointPort
	endpoints map[sliceKey]endpointsliceutil.EndpointSet
}

type actions struct {
	create, update, delete []*discoveryv1.EndpointSlice
}

func (r *reconciler) reconcile(ctx context.Context, ep *corev1.Endpoints, existing []*discoveryv1.EndpointSlice) error {
	d := desired{ports: map[sliceKey][]discoveryv1.EndpointPort{}, endpoints: map[sliceKey]endpointsliceutil.EndpointSet{}}
	invalid, skipped := 0, 0
	for _, subset := range endpoints.RepackSubsets(ep.Subsets) {
		ports := toSlicePorts(subset.Ports)
		keys := map[discoveryv1.AddressType]sliceKey{}
		for _, t := range []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6} {
			k := newSliceKey(ports, t)
			keys[t] = k
			if d.endpoints[k] == nil {
				d.endpoints[k] = endpointsliceutil.EndpointSet{}
			}
			d.ports[k] = ports
		}
		added := 0
		add := func(addrs []corev1.EndpointAddress, ready bool) {
			for _, a := range addrs {
				if added >= r.maxPerSubset {
					return
				}
				e, t, ok := toEndpoint(a, ready)
				if !ok {
					invalid++
					logger(ctx).Info("Address in Endpoints is not a valid IP, it will not be mirrored to an EndpointSlice", "endpoints", klog.KObj(ep), "IP", a.IP)
					continue
				}
				d.endpoints[keys[t]].Insert(e)
				added++
			}
		}
		add(subset.Addresses, true)
		add(subset.NotReadyAddresses, false)
		skipped += len(subset.Addresses) + len(subset.NotReadyAddresses) - added
	}
	if invalid > 0 {
		r.recorder.Eventf(ep, corev1.EventTypeWarning, reasonInvalidIPAddress,
			"Skipped %d invalid IP addresses when mirroring to EndpointSlices", invalid)
	}
	if skipped > invalid {
		logger(ctx).Info("Addresses in Endpoints were skipped due to exceeding MaxEndpointsPerSubset", "skippedAddresses", skipped, "endpoints", klog.KObj(ep))
		r.recorder.Eventf(ep, corev1.EventTypeWarning, reasonTooManyAddressesToMirror,
			"A max of %d addresses can be mirrored to EndpointSlices per Endpoints subset. %d addresses were skipped", r.maxPerSubset, skipped)
	}

	existingByKey := map[sliceKey][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		k := newSliceKey(s.Ports, s.AddressType)
		existingByKey[k] = append(existingByKey[k], s)
	}
	var acts actions
	for k, set := range d.endpoints {
		a := r.reconcileKey(ep, existingByKey[k], set, d.ports[k], k.addressType())
		acts.create = append(acts.create, a.create...)
		acts.update = append(acts.update, a.update...)
		acts.delete = append(acts.delete, a.delete...)
	}
	for k, slices := range existingByKey {
		if _, ok := d.endpoints[k]; !ok {
			acts.delete = append(acts.delete, slices...)
		}
	}
	return r.apply(ctx, ep, acts)
}

// reconcileKey keeps one slice per key: the first existing one is
// rewritten when anything differs, the others go.
func (r *reconciler) reconcileKey(ep *corev1.Endpoints, existing []*discoveryv1.EndpointSlice, want endpointsliceutil.EndpointSet,
	ports []discoveryv1.EndpointPort, addrType discoveryv1.AddressType) actions {
	if want.Len() == 0 {
		return actions{delete: existing}
	}
	var acts actions
	name := ""
	if len(existing) > 0 {
		acts.delete = existing[1:]
		first := existing[0]
		annotations := withoutKeys(ep.Annotations, corev1.EndpointsLastChangeTriggerTime, corev1.LastAppliedConfigAnnotation)
		sliceLabels := withoutKeys(first.Labels, discoveryv1.LabelManagedBy, discoveryv1.LabelServiceName)
		if !endpointsChanged(first, want) &&
			apiequality.Semantic.DeepEqual(ep.Labels, sliceLabels) &&
			apiequality.Semantic.DeepEqual(annotations, first.Annotations) &&
			!ownerReplaced(ep, first) {
			if !r.tracker.Has(first) {
				r.tracker.Update(first)
			}
			return acts
		}
		name = first.Name
	}
	s := newSlice(ep, ports, addrType, name)
	for want.Len() > 0 && len(s.Endpoints) < r.maxPerSubset {
		e, _ := want.PopAny()
		s.Endpoints = append(s.Endpoints, *e)
	}
	if s.Name != "" {
		acts.update = append(acts.update, s)
	} else {
		acts.create = append(acts.create, s)
	}
	return acts
}

// endpointsChanged reports whether slice's endpoints differ from want.
func endpointsChanged(slice *discoveryv1.EndpointSlice, want endpointsliceutil.EndpointSet) bool {
	matches := 0
	for i := range slice.Endpoints {
		got := want.Get(&slice.Endpoints[i])
		if got == nil || !endpointsliceutil.EndpointsEqualBeyondHash(got, &slice.Endpoints[i]) {
			return true
		}
		matches++
	}
	return want.Len() != matches
}

// ownerReplaced reports whether slice belongs to an earlier Endpoints of
// the same name, deleted and recreated since.
func ownerReplaced(ep *corev1.Endpoints, slice *discoveryv1.EndpointSlice) bool {
	for _, o := range slice.OwnerReferences {
		if o.Kind == "Endpoints" && o.Name == ep.Name && o.UID != ep.UID {
			return true
		}
	}
	return false
}

// apply writes the actions, turning a create and a delete of the same
// address type into one update so that slice names are reused.
func (r *reconciler) apply(ctx context.Context, ep *corev1.Endpoints, acts actions) error {
	recycle(&acts)
	client := r.client.DiscoveryV1().EndpointSlices(ep.Namespace)
	if ep.DeletionTimestamp == nil {
		for _, s := range acts.create {
			created, err := client.Create(ctx, s, metav1.CreateOptions{})
			if err != nil {
				if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					return nil
				}
				return fmt.Errorf("failed to create EndpointSlice for Endpoints %s/%s: %w", ep.Namespace, ep.Name, err)
			}
			r.tracker.Update(created)
		}
	}
	for _, s := range acts.update {
		updated, err := client.Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("failed to update %s EndpointSlice for Endpoints %s/%s: %w", s.Name, ep.Namespace, ep.Name, err)
		}
		r.tracker.Update(updated)
	}
	for _, s := range acts.delete {
		if err := client.Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("failed to delete %s EndpointSlice for Endpoints %s/%s: %w", s.Name, ep.Namespace, ep.Name, err)
		}
		r.tracker.ExpectDeletion(s)
	}
	return nil
}

// deleteAll removes the slices mirrored from the Endpoints ns/name.
func (r *reconciler) deleteAll(ctx context.Context, ns, name string, slices []*discoveryv1.EndpointSlice) error {
	var errs []error
	for _, s := range slices {
		if err := r.client.DiscoveryV1().EndpointSlices(ns).Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("error(s) deleting %d/%d EndpointSlices for %s/%s Endpoints, including: %w", len(errs), len(slices), ns, name, errors.Join(errs...))
	}
	return nil
}

func recycle(acts *actions) {
	byType := func(slices []*discoveryv1.EndpointSlice) map[discoveryv1.AddressType][]*discoveryv1.EndpointSlice {
		m := map[discoveryv1.AddressType][]*discoveryv1.EndpointSlice{}
		for _, s := range slices {
			m[s.AddressType] = append(m[s.AddressType], s)
		}
		return m
	}
	deletes := byType(acts.delete)
	for t, creates := range byType(acts.create) {
		for i := 0; i < len(creates) && i < len(deletes[t]); i++ {
			acts.create = remove(acts.create, creates[i])
			acts.delete = remove(acts.delete, deletes[t][i])
			creates[i].Name = deletes[t][i].Name
			creates[i].GenerateName = ""
			acts.update = append(acts.update, creates[i])
		}
	}
}

func remove(slices []*discoveryv1.EndpointSlice, s *discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice {
	for i := range slices {
		if slices[i] == s {
			return append(slices[:i], slices[i+1:]...)
		}
	}
	return slices
}

// newSlice is the slice mirroring ep for ports and addrType; name "" means
// a new slice with a generated name.
func newSlice(ep *corev1.Endpoints, ports []discoveryv1.EndpointPort, addrType discoveryv1.AddressType, name string) *discoveryv1.EndpointSlice {
	owner := metav1.NewControllerRef(ep, corev1.SchemeGroupVersion.WithKind("Endpoints"))
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       ep.Namespace,
			Labels:          map[string]string{},
			Annotations:     map[string]string{},
			OwnerReferences: []metav1.OwnerReference{*owner},
		},
		Ports:       ports,
		AddressType: addrType,
		Endpoints:   []discoveryv1.Endpoint{},
	}
	for k, v := range ep.Labels {
		s.Labels[k] = v
	}
	s.Labels[discoveryv1.LabelServiceName] = ep.Name
	s.Labels[discoveryv1.LabelManagedBy] = ControllerName
	for k, v := range ep.Annotations {
		if k != corev1.EndpointsLastChangeTriggerTime && k != corev1.LastAppliedConfigAnnotation {
			s.Annotations[k] = v
		}
	}
	if name == "" {
		s.GenerateName = generateNamePrefix(ep.Name)
	}
	return s
}

// generateNamePrefix is "<name>-" unless that is no valid name prefix.
func generateNamePrefix(name string) string {
	prefix := name + "-"
	if len(apivalidation.NameIsDNSSubdomain(prefix, true)) != 0 {
		return name
	}
	return prefix
}

// toEndpoint converts one address; ok is false for an address that is no
// IP.
func toEndpoint(a corev1.EndpointAddress, ready bool) (*discoveryv1.Endpoint, discoveryv1.AddressType, bool) {
	ip := netutils.ParseIPSloppy(a.IP)
	if ip == nil {
		return nil, "", false
	}
	t := discoveryv1.AddressTypeIPv4
	if ip.To4() == nil {
		t = discoveryv1.AddressTypeIPv6
	}
	e := &discoveryv1.Endpoint{
		Addresses:  []string{ip.String()},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready},
		TargetRef:  a.TargetRef,
		NodeName:   a.NodeName,
	}
	if a.Hostname != "" {
		e.Hostname = &a.Hostname
	}
	return e, t, true
}

func toSlicePorts(ports []corev1.EndpointPort) []discoveryv1.EndpointPort {
	out := []discoveryv1.EndpointPort{}
	for _, p := range ports {
		p := p.DeepCopy()
		out = append(out, discoveryv1.EndpointPort{Name: &p.Name, Port: &p.Port, Protocol: &p.Protocol, AppProtocol: p.AppProtocol})
	}
	return out
}

func withoutKeys(m map[string]string, keys ...string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}
