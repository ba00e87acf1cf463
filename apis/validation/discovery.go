package validation

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

const (
	maxSliceTopologyLabels = 16
	maxSliceAddresses      = 100
	maxSlicePorts          = 20000
	maxSliceEndpoints      = 1000
	maxSliceZoneHints      = 8
	maxSliceNodeHints      = 8
)

var supportedAddressTypes = sets.New(discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN)

func validateEndpointSlice(es, old *discoveryv1.EndpointSlice) field.ErrorList {
	allErrs := validateObjectMeta(&es.ObjectMeta, true, nameIsDNSSubdomain, metadataPath)
	typePath := field.NewPath("addressType")
	if es.AddressType == "" {
		allErrs = append(allErrs, field.Required(typePath, "").MarkCoveredByDeclarative())
	} else if !supportedAddressTypes.Has(es.AddressType) {
		allErrs = append(allErrs, field.NotSupported(typePath, es.AddressType, sets.List(supportedAddressTypes)).MarkCoveredByDeclarative())
	}
	allErrs = append(allErrs, validateSlicePorts(es.Ports, field.NewPath("ports"))...)
	endpointErrs := validateSliceEndpoints(es.Endpoints, es.AddressType, field.NewPath("endpoints"))
	// Endpoints older releases accepted stay acceptable while unchanged.
	if len(endpointErrs) != 0 && old != nil && apiequality.Semantic.DeepEqual(old.Endpoints, es.Endpoints) {
		endpointErrs = nil
	}
	return append(allErrs, endpointErrs...)
}

func validateEndpointSliceCreate(es *discoveryv1.EndpointSlice) field.ErrorList {
	return validateEndpointSlice(es, nil)
}

func validateEndpointSliceUpdate(es, old *discoveryv1.EndpointSlice) field.ErrorList {
	// Metadata update rules come from the generic registry, as upstream.
	allErrs := validateEndpointSlice(es, old)
	return append(allErrs, validateImmutableField(es.AddressType, old.AddressType, field.NewPath("addressType")).WithOrigin("immutable").MarkCoveredByDeclarative()...)
}

func validateSliceEndpoints(endpoints []discoveryv1.Endpoint, addrType discoveryv1.AddressType, fldPath *field.Path) field.ErrorList {
	if len(endpoints) > maxSliceEndpoints {
		return field.ErrorList{field.TooMany(fldPath, len(endpoints), maxSliceEndpoints)}
	}
	var allErrs field.ErrorList
	for i, ep := range endpoints {
		idxPath := fldPath.Index(i)
		addrPath := idxPath.Child("addresses")
		if len(ep.Addresses) == 0 {
			allErrs = append(allErrs, field.Required(addrPath, "must contain at least 1 address").MarkCoveredByDeclarative())
		} else if len(ep.Addresses) > maxSliceAddresses {
			allErrs = append(allErrs, field.TooMany(addrPath, len(ep.Addresses), maxSliceAddresses).WithOrigin("maxItems").MarkCoveredByDeclarative())
		}
		for j, addr := range ep.Addresses {
			switch addrType {
			case discoveryv1.AddressTypeIPv4:
				if errs := isValidIPForLegacyField(addrPath.Index(j), addr, nil); len(errs) > 0 {
					allErrs = append(allErrs, errs...)
				} else {
					if !netutils.IsIPv4String(addr) {
						allErrs = append(allErrs, field.Invalid(addrPath, addr, "must be an IPv4 address"))
					}
					allErrs = append(allErrs, validateEndpointIP(addr, addrPath.Index(j))...)
				}
			case discoveryv1.AddressTypeIPv6:
				if errs := utilvalidation.IsValidIP(addrPath.Index(j), addr); len(errs) > 0 {
					allErrs = append(allErrs, errs...)
				} else {
					if !netutils.IsIPv6String(addr) {
						allErrs = append(allErrs, field.Invalid(addrPath, addr, "must be an IPv6 address"))
					}
					allErrs = append(allErrs, validateEndpointIP(addr, addrPath.Index(j))...)
				}
			case discoveryv1.AddressTypeFQDN:
				allErrs = append(allErrs, utilvalidation.IsFullyQualifiedDomainName(addrPath.Index(j), addr)...)
			}
		}
		if ep.NodeName != nil {
			allErrs = append(allErrs, validateName(nameIsDNSSubdomain, *ep.NodeName, idxPath.Child("nodeName"))...)
		}
		topoPath := idxPath.Child("deprecatedTopology")
		if len(ep.DeprecatedTopology) > maxSliceTopologyLabels {
			allErrs = append(allErrs, field.TooMany(topoPath, len(ep.DeprecatedTopology), maxSliceTopologyLabels))
		}
		allErrs = append(allErrs, metavalidation.ValidateLabels(ep.DeprecatedTopology, topoPath)...)
		if _, ok := ep.DeprecatedTopology[corev1.LabelTopologyZone]; ok {
			allErrs = append(allErrs, field.InternalError(topoPath.Key(corev1.LabelTopologyZone), fmt.Errorf("reserved key was not removed in conversion")))
		}
		if ep.Hostname != nil {
			allErrs = append(allErrs, validateDNS1123Label(*ep.Hostname, idxPath.Child("hostname"))...)
		}
		if ep.Hints != nil {
			allErrs = append(allErrs, validateEndpointHints(ep.Hints, idxPath.Child("hints"))...)
		}
	}
	return allErrs
}

func validateSlicePorts(ports []discoveryv1.EndpointPort, fldPath *field.Path) field.ErrorList {
	if len(ports) > maxSlicePorts {
		return field.ErrorList{field.TooMany(fldPath, len(ports), maxSlicePorts)}
	}
	var allErrs field.ErrorList
	var names []string
	for i, p := range ports {
		idxPath := fldPath.Index(i)
		name := ptrDeref(p.Name, "")
		if len(name) > 0 {
			allErrs = append(allErrs, validateDNS1123Label(name, idxPath.Child("name"))...)
		}
		if slices.Contains(names, name) {
			allErrs = append(allErrs, field.Duplicate(idxPath.Child("name"), p.Name))
		} else {
			names = append(names, name)
		}
		if p.Protocol == nil {
			allErrs = append(allErrs, field.Required(idxPath.Child("protocol"), ""))
		} else if !supportedPortProtocols.Has(*p.Protocol) {
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("protocol"), *p.Protocol, sets.List(supportedPortProtocols)))
		}
		if p.AppProtocol != nil {
			allErrs = append(allErrs, validateQualifiedName(*p.AppProtocol, idxPath.Child("appProtocol"))...)
		}
	}
	return allErrs
}

func validateEndpointHints(h *discoveryv1.EndpointHints, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	zonesPath := fldPath.Child("forZones")
	if len(h.ForZones) > maxSliceZoneHints {
		return append(allErrs, field.TooMany(zonesPath, len(h.ForZones), maxSliceZoneHints))
	}
	var zones []string
	for i, z := range h.ForZones {
		p := zonesPath.Index(i).Child("name")
		if slices.Contains(zones, z.Name) {
			allErrs = append(allErrs, field.Duplicate(p, z.Name))
		} else {
			zones = append(zones, z.Name)
		}
		for _, msg := range utilvalidation.IsValidLabelValue(z.Name) {
			allErrs = append(allErrs, field.Invalid(p, z.Name, msg))
		}
	}
	nodesPath := fldPath.Child("forNodes")
	if len(h.ForNodes) > maxSliceNodeHints {
		return append(allErrs, field.TooMany(nodesPath, len(h.ForNodes), maxSliceNodeHints))
	}
	var nodes []string
	for i, n := range h.ForNodes {
		p := nodesPath.Index(i).Child("name")
		if slices.Contains(nodes, n.Name) {
			allErrs = append(allErrs, field.Duplicate(p, n.Name))
		} else {
			nodes = append(nodes, n.Name)
		}
		allErrs = append(allErrs, validateName(nameIsDNSSubdomain, n.Name, p)...)
	}
	return allErrs
}
