package server

import (
	"context"
	"fmt"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// systemNamespaces exist in every Kubernetes cluster from the start.
var systemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// bootstrap creates the objects every cluster has before anyone uses it: the
// system namespaces and the `kubernetes` Service with its endpoints. It is
// safe to run on every start. Afterwards it keeps recreating them, as
// kube-apiserver does, should anyone delete them.
func bootstrap(ctx context.Context, client kubernetes.Interface, cfg *Config, svcIP net.IP) error {
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := ensureBootstrapObjects(ctx, client, cfg, svcIP); err != nil {
			klog.InfoS("Bootstrap objects not ready yet", "err", err)
			return false, nil
		}
		if err := ensureIdentities(ctx, client); err != nil {
			klog.InfoS("Component identities not ready yet", "err", err)
			return false, nil
		}
		if err := ensureDefaultStorageClass(ctx, client); err != nil {
			klog.InfoS("Default StorageClass not ready yet", "err", err)
			return false, nil
		}
		if err := ensureClusterInfo(ctx, client, cfg); err != nil {
			klog.InfoS("cluster-info not ready yet", "err", err)
			return false, nil
		}
		if err := ensureLegacyTokenTracking(ctx, client, time.Now()); err != nil {
			klog.InfoS("Legacy token tracking not ready yet", "err", err)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		// Not fatal: the loop below keeps trying, and the server stays up.
		klog.ErrorS(err, "Creating the cluster's bootstrap objects")
	}
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := ensureBootstrapObjects(ctx, client, cfg, svcIP); err != nil {
			klog.ErrorS(err, "Recreating the cluster's bootstrap objects")
		}
	}, time.Minute)
	return nil
}

func ensureBootstrapObjects(ctx context.Context, client kubernetes.Interface, cfg *Config, svcIP net.IP) error {
	for _, ns := range systemNamespaces {
		_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	}

	port := int32(cfg.HTTPSPort)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "kubernetes",
			Namespace: metav1.NamespaceDefault,
			Labels:    map[string]string{"component": "apiserver", "provider": "kubernetes"},
		},
		Spec: corev1.ServiceSpec{
			Type:            corev1.ServiceTypeClusterIP,
			ClusterIP:       svcIP.String(),
			SessionAffinity: corev1.ServiceAffinityNone,
			Ports: []corev1.ServicePort{{
				Name: "https", Protocol: corev1.ProtocolTCP, Port: 443, TargetPort: intstr.FromInt32(port),
			}},
		},
	}
	// Get first, as upstream's kubernetes service controller does: creating
	// an existing Service that names its ClusterIP fails on the allocation
	// ("provided IP is already allocated"), not with AlreadyExists.
	if _, err := client.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, svc.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := client.CoreV1().Services(metav1.NamespaceDefault).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the kubernetes service: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("reading the kubernetes service: %w", err)
	}

	// Endpoints may not point at loopback (upstream validation refuses it), so
	// a server advertising a loopback address publishes none: nothing outside
	// this host could use them anyway.
	if cfg.AdvertiseAddress.IsLoopback() {
		klog.InfoS("Not publishing endpoints for the kubernetes service: the advertise address is loopback", "address", cfg.AdvertiseAddress)
		return nil
	}
	addr := cfg.AdvertiseAddress.String()
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "kubernetes",
			Namespace: metav1.NamespaceDefault,
			Labels:    map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"},
		},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: addr}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: port, Protocol: corev1.ProtocolTCP}},
		}},
	}
	if err := createOrUpdate(func() error {
		_, err := client.CoreV1().Endpoints(metav1.NamespaceDefault).Create(ctx, ep, metav1.CreateOptions{})
		return err
	}, func() error {
		cur, err := client.CoreV1().Endpoints(metav1.NamespaceDefault).Get(ctx, ep.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Subsets = ep.Subsets
		_, err = client.CoreV1().Endpoints(metav1.NamespaceDefault).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("writing the kubernetes endpoints: %w", err)
	}

	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "kubernetes",
			Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: "kubernetes",
				discoveryv1.LabelManagedBy:   "endpointslice-controller.k8s.io",
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{addr},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	if cfg.AdvertiseAddress.To4() == nil {
		slice.AddressType = discoveryv1.AddressTypeIPv6
	}
	return createOrUpdate(func() error {
		_, err := client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Create(ctx, slice, metav1.CreateOptions{})
		return err
	}, func() error {
		cur, err := client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Get(ctx, slice.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Endpoints, cur.Ports, cur.AddressType = slice.Endpoints, slice.Ports, slice.AddressType
		_, err = client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

// createOrUpdate creates an object, or updates it when it already exists.
func createOrUpdate(create, update func() error) error {
	err := create()
	if apierrors.IsAlreadyExists(err) {
		return update()
	}
	return err
}
