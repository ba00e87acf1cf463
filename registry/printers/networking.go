package printers

import (
	"strconv"
	"strings"

	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func addNetworkingHandlers(h handlers) {
	register(h, ingressColumns(), func(l *networkingv1.IngressList) []networkingv1.Ingress { return l.Items }, printIngress)
	register(h, ingressClassColumns(), func(l *networkingv1.IngressClassList) []networkingv1.IngressClass { return l.Items }, printIngressClass)
	register(h, networkPolicyColumns(), func(l *networkingv1.NetworkPolicyList) []networkingv1.NetworkPolicy { return l.Items }, printNetworkPolicy)
	register(h, serviceCIDRColumns(), func(l *networkingv1.ServiceCIDRList) []networkingv1.ServiceCIDR { return l.Items }, printServiceCIDR)
	register(h, ipAddressColumns(), func(l *networkingv1.IPAddressList) []networkingv1.IPAddress { return l.Items }, printIPAddress)
	register(h, endpointSliceColumns(), func(l *discoveryv1.EndpointSliceList) []discoveryv1.EndpointSlice { return l.Items }, printEndpointSlice)
}

func ingressColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Class", "The name of the IngressClass resource that should be used for additional configuration"),
		stringColumn("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
		stringColumn("Address", "Address is a list containing ingress points for the load-balancer"),
		stringColumn("Ports", "Ports of TLS configurations that open"),
		ageColumn(),
	}
}

func printIngress(ing *networkingv1.Ingress, opts options) (metav1.TableRow, error) {
	class := "<none>"
	if ing.Spec.IngressClassName != nil {
		class = *ing.Spec.IngressClassName
	}
	ports := "80"
	if len(ing.Spec.TLS) != 0 {
		ports = "80, 443"
	}
	lb := ing.Status.LoadBalancer.Ingress
	address := clipLoadBalancer(strings.Join(sortedUniqueAddresses(func(i int) string {
		if lb[i].IP != "" {
			return lb[i].IP
		}
		return lb[i].Hostname
	}, len(lb)), ","), opts.wide)
	return cells(ing.Name, class, ingressHosts(ing.Spec.Rules), address, ports, age(ing.CreationTimestamp))
}

// ingressHosts lists the first three hosts the rules name, "*" when they
// name none, and how many rules are left out when more rules follow the third
// host.
func ingressHosts(rules []networkingv1.IngressRule) string {
	const limit = 3
	var hosts []string
	more := false
	for _, rule := range rules {
		if len(hosts) == limit {
			more = true
			break
		}
		if rule.Host != "" {
			hosts = append(hosts, rule.Host)
		}
	}
	if len(hosts) == 0 {
		return "*"
	}
	s := strings.Join(hosts, ",")
	if more {
		return s + " + " + strconv.Itoa(len(rules)-limit) + " more..."
	}
	return s
}

func ingressClassColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Controller", "Controller that is responsible for handling this class"),
		stringColumn("Parameters", "A reference to a resource with additional parameters"),
		ageColumn(),
	}
}

func printIngressClass(ic *networkingv1.IngressClass, _ options) (metav1.TableRow, error) {
	name := ic.Name
	if ic.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true" {
		name += " (default)"
	}
	parameters := "<none>"
	if p := ic.Spec.Parameters; p != nil {
		parameters = p.Kind
		if p.APIGroup != nil {
			parameters += "." + *p.APIGroup
		}
		parameters += "/" + p.Name
	}
	return cells(name, ic.Spec.Controller, parameters, age(ic.CreationTimestamp))
}

func networkPolicyColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Pod-Selector", networkingv1.NetworkPolicySpec{}.SwaggerDoc()["podSelector"]),
		ageColumn(),
	}
}

func printNetworkPolicy(np *networkingv1.NetworkPolicy, _ options) (metav1.TableRow, error) {
	return cells(np.Name, metav1.FormatLabelSelector(&np.Spec.PodSelector), age(np.CreationTimestamp))
}

func serviceCIDRColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("CIDRs", networkingv1.ServiceCIDRSpec{}.SwaggerDoc()["cidrs"]),
		ageColumn(),
	}
}

func printServiceCIDR(c *networkingv1.ServiceCIDR, _ options) (metav1.TableRow, error) {
	return cells(c.Name, strings.Join(c.Spec.CIDRs, ","), age(c.CreationTimestamp))
}

// Upstream defines no Age column for IP addresses but still prints the age as
// a third cell; kubectl shows only the two defined columns.
func ipAddressColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("ParentRef", networkingv1.IPAddressSpec{}.SwaggerDoc()["parentRef"]),
	}
}

func printIPAddress(ip *networkingv1.IPAddress, _ options) (metav1.TableRow, error) {
	parent := "<none>"
	if ref := ip.Spec.ParentRef; ref != nil {
		parent = strings.ToLower(schema.GroupResource{Group: ref.Group, Resource: ref.Resource}.String())
		if ref.Namespace != "" {
			parent += "/" + ref.Namespace
		}
		parent += "/" + ref.Name
	}
	return cells(ip.Name, parent, age(ip.CreationTimestamp))
}

func endpointSliceColumns() []metav1.TableColumnDefinition {
	doc := discoveryv1.EndpointSlice{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("AddressType", doc["addressType"]),
		stringColumn("Ports", doc["ports"]),
		stringColumn("Endpoints", doc["endpoints"]),
		ageColumn(),
	}
}

func printEndpointSlice(s *discoveryv1.EndpointSlice, _ options) (metav1.TableRow, error) {
	const limit = 3
	ports := make([]string, 0, len(s.Ports))
	for _, p := range s.Ports {
		switch {
		case p.Port != nil:
			ports = append(ports, strconv.Itoa(int(*p.Port)))
		case p.Name != nil:
			ports = append(ports, *p.Name)
		default:
			ports = append(ports, "*")
		}
	}
	var addresses []string
	for _, ep := range s.Endpoints {
		addresses = append(addresses, ep.Addresses...)
	}
	return cells(s.Name, string(s.AddressType), firstOf(ports, len(ports), limit),
		firstOf(addresses, len(addresses), limit), age(s.CreationTimestamp))
}
