package printers

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func addCoreHandlers(h handlers) {
	register(h, podColumns(), func(l *corev1.PodList) []corev1.Pod { return l.Items }, printPod)
	register(h, podTemplateColumns(), func(l *corev1.PodTemplateList) []corev1.PodTemplate { return l.Items }, printPodTemplate)
	register(h, replicationControllerColumns(), func(l *corev1.ReplicationControllerList) []corev1.ReplicationController { return l.Items }, printReplicationController)
	register(h, serviceColumns(), func(l *corev1.ServiceList) []corev1.Service { return l.Items }, printService)
	register(h, endpointsColumns(), func(l *corev1.EndpointsList) []corev1.Endpoints { return l.Items }, printEndpoints)
	register(h, nodeColumns(), func(l *corev1.NodeList) []corev1.Node { return l.Items }, printNode)
	register(h, eventColumns(), func(l *corev1.EventList) []corev1.Event { return l.Items }, printEvent)
	// events.k8s.io shares the storage of core events and upstream prints it
	// through the core type.
	register(h, eventColumns(), func(l *eventsv1.EventList) []eventsv1.Event { return l.Items }, printEventsV1Event)
	register(h, namespaceColumns(), func(l *corev1.NamespaceList) []corev1.Namespace { return l.Items }, printNamespace)
	register(h, secretColumns(), func(l *corev1.SecretList) []corev1.Secret { return l.Items }, printSecret)
	register(h, []metav1.TableColumnDefinition{nameColumn(), ageColumn()}, func(l *corev1.ServiceAccountList) []corev1.ServiceAccount { return l.Items }, printServiceAccount)
	register(h, configMapColumns(), func(l *corev1.ConfigMapList) []corev1.ConfigMap { return l.Items }, printConfigMap)
	register(h, persistentVolumeColumns(), func(l *corev1.PersistentVolumeList) []corev1.PersistentVolume { return l.Items }, printPersistentVolume)
	register(h, persistentVolumeClaimColumns(), func(l *corev1.PersistentVolumeClaimList) []corev1.PersistentVolumeClaim { return l.Items }, printPersistentVolumeClaim)
	register(h, resourceQuotaColumns(), func(l *corev1.ResourceQuotaList) []corev1.ResourceQuota { return l.Items }, printResourceQuota)
	register(h, componentStatusColumns(), func(l *corev1.ComponentStatusList) []corev1.ComponentStatus { return l.Items }, printComponentStatus)
	registerOne(h, statusColumns(), printStatus)
}

func podTemplateColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Containers", "Names of each container in the template."),
		stringColumn("Images", "Images referenced by each container in the template."),
		stringColumn("Pod Labels", "The labels for the pod template."),
	}
}

func printPodTemplate(t *corev1.PodTemplate, _ options) (metav1.TableRow, error) {
	names, images := containerCells(t.Template.Spec.Containers)
	return cells(t.Name, names, images, labels.FormatLabels(t.Template.Labels))
}

func replicationControllerColumns() []metav1.TableColumnDefinition {
	spec, status := corev1.ReplicationControllerSpec{}.SwaggerDoc(), corev1.ReplicationControllerStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		integerColumn("Desired", spec["replicas"]),
		integerColumn("Current", status["replicas"]),
		integerColumn("Ready", status["readyReplicas"]),
		ageColumn(),
		wide(containersColumn()),
		wide(imagesColumn()),
		wide(stringColumn("Selector", spec["selector"])),
	}
}

func printReplicationController(rc *corev1.ReplicationController, opts options) (metav1.TableRow, error) {
	row := []any{rc.Name, int64(derefInt32(rc.Spec.Replicas)), int64(rc.Status.Replicas), int64(rc.Status.ReadyReplicas), age(rc.CreationTimestamp)}
	if opts.wide {
		var containers []corev1.Container
		if rc.Spec.Template != nil {
			containers = rc.Spec.Template.Spec.Containers
		}
		names, images := containerCells(containers)
		row = append(row, names, images, labels.FormatLabels(rc.Spec.Selector))
	}
	return cells(row...)
}

func serviceColumns() []metav1.TableColumnDefinition {
	spec := corev1.ServiceSpec{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Type", spec["type"]),
		stringColumn("Cluster-IP", spec["clusterIP"]),
		stringColumn("External-IP", spec["externalIPs"]),
		stringColumn("Port(s)", spec["ports"]),
		ageColumn(),
		wide(stringColumn("Selector", spec["selector"])),
	}
}

func printService(svc *corev1.Service, opts options) (metav1.TableRow, error) {
	clusterIP := "<none>"
	if len(svc.Spec.ClusterIPs) > 0 {
		clusterIP = svc.Spec.ClusterIPs[0]
	}
	ports := servicePorts(svc.Spec.Ports)
	if ports == "" {
		ports = "<none>"
	}
	row := []any{svc.Name, string(svc.Spec.Type), clusterIP, serviceExternalIP(svc, opts.wide), ports, age(svc.CreationTimestamp)}
	if opts.wide {
		row = append(row, labels.FormatLabels(svc.Spec.Selector))
	}
	return cells(row...)
}

func serviceExternalIP(svc *corev1.Service, wide bool) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(svc.Spec.ExternalIPs) > 0 {
			return strings.Join(svc.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case corev1.ServiceTypeLoadBalancer:
		ingress := svc.Status.LoadBalancer.Ingress
		lb := clipLoadBalancer(strings.Join(sortedUniqueAddresses(func(i int) string {
			if ingress[i].IP != "" {
				return ingress[i].IP
			}
			return ingress[i].Hostname
		}, len(ingress)), ","), wide)
		if len(svc.Spec.ExternalIPs) > 0 {
			var all []string
			if lb != "" {
				all = strings.Split(lb, ",")
			}
			return strings.Join(append(all, svc.Spec.ExternalIPs...), ",")
		}
		if lb != "" {
			return lb
		}
		return "<pending>"
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return "<unknown>"
}

func servicePorts(ports []corev1.ServicePort) string {
	out := make([]string, len(ports))
	for i, p := range ports {
		if p.NodePort > 0 {
			out[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		} else {
			out[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		}
	}
	return strings.Join(out, ",")
}

func endpointsColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Endpoints", corev1.Endpoints{}.SwaggerDoc()["subsets"]),
		ageColumn(),
	}
}

func printEndpoints(ep *corev1.Endpoints, _ options) (metav1.TableRow, error) {
	return cells(ep.Name, formatEndpoints(ep), age(ep.CreationTimestamp))
}

// formatEndpoints shows the first three addresses (with their ports, when
// the subset has any) and how many more there are.
func formatEndpoints(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return "<none>"
	}
	const limit = 3
	var list []string
	count := 0
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			// Headless services may have no ports.
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				if len(list) < limit {
					list = append(list, a.IP)
				}
			}
			continue
		}
		for _, port := range ss.Ports {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				if len(list) < limit {
					list = append(list, net.JoinHostPort(a.IP, strconv.Itoa(int(port.Port))))
				}
			}
		}
	}
	s := strings.Join(list, ",")
	if count > limit {
		return fmt.Sprintf("%s + %d more...", s, count-limit)
	}
	return s
}

func nodeColumns() []metav1.TableColumnDefinition {
	info, status := corev1.NodeSystemInfo{}.SwaggerDoc(), corev1.NodeStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Status", "The status of the node"),
		stringColumn("Roles", "The roles of the node"),
		ageColumn(),
		stringColumn("Version", info["kubeletVersion"]),
		wide(stringColumn("Internal-IP", status["addresses"])),
		wide(stringColumn("External-IP", status["addresses"])),
		wide(stringColumn("OS-Image", info["osImage"])),
		wide(stringColumn("Kernel-Version", info["kernelVersion"])),
		wide(stringColumn("Container-Runtime", info["containerRuntimeVersion"])),
	}
}

const (
	nodeRoleLabelPrefix = "node-role.kubernetes.io/"
	// nodeRoleLabel is the older way to name a node's role, as its value.
	nodeRoleLabel = "kubernetes.io/role"
)

func printNode(node *corev1.Node, opts options) (metav1.TableRow, error) {
	// Only the Ready condition makes the status; the last one of that type
	// wins, as it would in a map keyed by type.
	var status []string
	var readyCondition *corev1.NodeCondition
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == corev1.NodeReady {
			readyCondition = &node.Status.Conditions[i]
		}
	}
	switch {
	case readyCondition == nil:
		status = append(status, "Unknown")
	case readyCondition.Status == corev1.ConditionTrue:
		status = append(status, string(corev1.NodeReady))
	default:
		status = append(status, "Not"+string(corev1.NodeReady))
	}
	if node.Spec.Unschedulable {
		status = append(status, "SchedulingDisabled")
	}

	roles := strings.Join(nodeRoles(node), ",")
	if roles == "" {
		roles = "<none>"
	}
	info := node.Status.NodeInfo
	row := []any{node.Name, strings.Join(status, ","), roles, age(node.CreationTimestamp), info.KubeletVersion}
	if opts.wide {
		osImage, kernel, runtime := orUnknown(info.OSImage), orUnknown(info.KernelVersion), orUnknown(info.ContainerRuntimeVersion)
		if info.Architecture != "" {
			kernel += " (" + info.Architecture + ")"
		}
		row = append(row, nodeAddress(node, corev1.NodeInternalIP), nodeAddress(node, corev1.NodeExternalIP), osImage, kernel, runtime)
	}
	return cells(row...)
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

func nodeAddress(node *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range node.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

// nodeRoles reads roles from node-role.kubernetes.io/<role> label keys and
// from the value of a kubernetes.io/role label, sorted and without repeats.
func nodeRoles(node *corev1.Node) []string {
	set := map[string]bool{}
	for k, v := range node.Labels {
		switch {
		case strings.HasPrefix(k, nodeRoleLabelPrefix):
			if role := strings.TrimPrefix(k, nodeRoleLabelPrefix); role != "" {
				set[role] = true
			}
		case k == nodeRoleLabel && v != "":
			set[v] = true
		}
	}
	roles := make([]string, 0, len(set))
	for r := range set {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles
}

func eventColumns() []metav1.TableColumnDefinition {
	event := corev1.Event{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		stringColumn("Last Seen", event["lastTimestamp"]),
		stringColumn("Type", event["type"]),
		stringColumn("Reason", event["reason"]),
		stringColumn("Object", event["involvedObject"]),
		wide(stringColumn("Subobject", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"])),
		wide(stringColumn("Source", event["source"])),
		stringColumn("Message", event["message"]),
		wide(stringColumn("First Seen", event["firstTimestamp"])),
		wide(stringColumn("Count", event["count"])),
		wide(nameColumn()),
	}
}

func printEvent(e *corev1.Event, opts options) (metav1.TableRow, error) {
	firstSeen := age(e.FirstTimestamp)
	if e.FirstTimestamp.IsZero() {
		firstSeen = microAge(e.EventTime)
	}
	lastSeen := age(e.LastTimestamp)
	if e.LastTimestamp.IsZero() {
		lastSeen = firstSeen
	}
	count := e.Count
	if e.Series != nil {
		lastSeen = microAge(e.Series.LastObservedTime)
		count = e.Series.Count
	} else if count == 0 {
		// Events written through events.k8s.io leave the count of a
		// singleton unset.
		count = 1
	}

	target := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		target += "/" + e.InvolvedObject.Name
	}
	message := strings.TrimSpace(e.Message)
	if !opts.wide {
		return cells(lastSeen, e.Type, e.Reason, target, message)
	}
	return cells(lastSeen, e.Type, e.Reason, target, e.InvolvedObject.FieldPath,
		eventSource(e), message, firstSeen, int64(count), e.Name)
}

// eventSource is "component, host", falling back to the reporting
// controller and instance that events.k8s.io clients set instead.
func eventSource(e *corev1.Event) string {
	component, instance := e.Source.Component, e.Source.Host
	if component == "" {
		component = e.ReportingController
	}
	if instance == "" {
		instance = e.ReportingInstance
	}
	if instance == "" {
		return component
	}
	return component + ", " + instance
}

func printEventsV1Event(e *eventsv1.Event, opts options) (metav1.TableRow, error) {
	return printEvent(coreEvent(e), opts)
}

// coreEvent is the core Event that upstream converts an events.k8s.io Event
// to before printing it.
func coreEvent(e *eventsv1.Event) *corev1.Event {
	out := &corev1.Event{
		ObjectMeta:          e.ObjectMeta,
		InvolvedObject:      e.Regarding,
		Reason:              e.Reason,
		Message:             e.Note,
		Source:              e.DeprecatedSource,
		FirstTimestamp:      e.DeprecatedFirstTimestamp,
		LastTimestamp:       e.DeprecatedLastTimestamp,
		Count:               e.DeprecatedCount,
		Type:                e.Type,
		EventTime:           e.EventTime,
		Action:              e.Action,
		Related:             e.Related,
		ReportingController: e.ReportingController,
		ReportingInstance:   e.ReportingInstance,
	}
	if e.Series != nil {
		out.Series = &corev1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	return out
}

func namespaceColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameColumn(), stringColumn("Status", "The status of the namespace"), ageColumn()}
}

func printNamespace(ns *corev1.Namespace, _ options) (metav1.TableRow, error) {
	return cells(ns.Name, string(ns.Status.Phase), age(ns.CreationTimestamp))
}

func secretColumns() []metav1.TableColumnDefinition {
	secret := corev1.Secret{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{nameColumn(), stringColumn("Type", secret["type"]), stringColumn("Data", secret["data"]), ageColumn()}
}

func printSecret(s *corev1.Secret, _ options) (metav1.TableRow, error) {
	return cells(s.Name, string(s.Type), int64(len(s.Data)), age(s.CreationTimestamp))
}

func printServiceAccount(sa *corev1.ServiceAccount, _ options) (metav1.TableRow, error) {
	return cells(sa.Name, age(sa.CreationTimestamp))
}

func configMapColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameColumn(), stringColumn("Data", corev1.ConfigMap{}.SwaggerDoc()["data"]), ageColumn()}
}

func printConfigMap(cm *corev1.ConfigMap, _ options) (metav1.TableRow, error) {
	return cells(cm.Name, int64(len(cm.Data)+len(cm.BinaryData)), age(cm.CreationTimestamp))
}

func persistentVolumeColumns() []metav1.TableColumnDefinition {
	spec, status := corev1.PersistentVolumeSpec{}.SwaggerDoc(), corev1.PersistentVolumeStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Capacity", spec["capacity"]),
		stringColumn("Access Modes", spec["accessModes"]),
		stringColumn("Reclaim Policy", spec["persistentVolumeReclaimPolicy"]),
		stringColumn("Status", status["phase"]),
		stringColumn("Claim", spec["claimRef"]),
		stringColumn("StorageClass", "StorageClass of the pv"),
		stringColumn("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
		stringColumn("Reason", status["reason"]),
		ageColumn(),
		wide(stringColumn("VolumeMode", spec["volumeMode"])),
	}
}

func printPersistentVolume(pv *corev1.PersistentVolume, _ options) (metav1.TableRow, error) {
	claim := ""
	if ref := pv.Spec.ClaimRef; ref != nil {
		claim = ref.Namespace + "/" + ref.Name
	}
	capacity := pv.Spec.Capacity[corev1.ResourceStorage]
	phase := string(pv.Status.Phase)
	if pv.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	class, ok := pv.Annotations[corev1.BetaStorageClassAnnotation]
	if !ok {
		class = pv.Spec.StorageClassName
	}
	return cells(pv.Name, capacity.String(), accessModes(pv.Spec.AccessModes), string(pv.Spec.PersistentVolumeReclaimPolicy),
		phase, claim, class, strOrUnset(pv.Spec.VolumeAttributesClassName), pv.Status.Reason,
		age(pv.CreationTimestamp), volumeModeString(pv.Spec.VolumeMode))
}

func persistentVolumeClaimColumns() []metav1.TableColumnDefinition {
	spec, status := corev1.PersistentVolumeClaimSpec{}.SwaggerDoc(), corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Status", status["phase"]),
		stringColumn("Volume", spec["volumeName"]),
		stringColumn("Capacity", status["capacity"]),
		stringColumn("Access Modes", status["accessModes"]),
		stringColumn("StorageClass", "StorageClass of the pvc"),
		stringColumn("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
		ageColumn(),
		wide(stringColumn("VolumeMode", spec["volumeMode"])),
	}
}

func printPersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim, _ options) (metav1.TableRow, error) {
	phase := string(pvc.Status.Phase)
	if pvc.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	// Capacity and access modes are the bound volume's, so a claim shows
	// them only once it names a volume.
	capacity, modes := "", ""
	if pvc.Spec.VolumeName != "" {
		modes = accessModes(pvc.Status.AccessModes)
		q := pvc.Status.Capacity[corev1.ResourceStorage]
		capacity = q.String()
	}
	class, ok := pvc.Annotations[corev1.BetaStorageClassAnnotation]
	if !ok && pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	return cells(pvc.Name, phase, pvc.Spec.VolumeName, capacity, modes, class,
		strOrUnset(pvc.Spec.VolumeAttributesClassName), age(pvc.CreationTimestamp), volumeModeString(pvc.Spec.VolumeMode))
}

// accessModes abbreviates access modes in a fixed order, each once.
func accessModes(modes []corev1.PersistentVolumeAccessMode) string {
	has := map[corev1.PersistentVolumeAccessMode]bool{}
	for _, m := range modes {
		has[m] = true
	}
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{
		{corev1.ReadWriteOnce, "RWO"},
		{corev1.ReadOnlyMany, "ROX"},
		{corev1.ReadWriteMany, "RWX"},
		{corev1.ReadWriteOncePod, "RWOP"},
	} {
		if has[m.mode] {
			out = append(out, m.short)
		}
	}
	return strings.Join(out, ",")
}

func volumeModeString(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return "<unset>"
	}
	return string(*m)
}

func strOrUnset(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}

func resourceQuotaColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Request", "Request represents a minimum amount of cpu/memory that a container may consume."),
		stringColumn("Limit", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
		ageColumn(),
	}
}

// printResourceQuota lists "resource: used/hard" for every hard limit,
// limits.* in the Limit column and everything else in the Request column.
func printResourceQuota(q *corev1.ResourceQuota, _ options) (metav1.TableRow, error) {
	names := make([]string, 0, len(q.Status.Hard))
	for name := range q.Status.Hard {
		names = append(names, string(name))
	}
	sort.Strings(names)
	var requests, limits []string
	for _, name := range names {
		used, hard := q.Status.Used[corev1.ResourceName(name)], q.Status.Hard[corev1.ResourceName(name)]
		entry := fmt.Sprintf("%s: %s/%s", name, used.String(), hard.String())
		if pieces := strings.Split(name, "."); len(pieces) > 1 && pieces[0] == "limits" {
			limits = append(limits, entry)
		} else {
			requests = append(requests, entry)
		}
	}
	return cells(q.Name, strings.Join(requests, ", "), strings.Join(limits, ", "), age(q.CreationTimestamp))
}

func componentStatusColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Status", "Status of the component conditions"),
		stringColumn("Message", "Message of the component conditions"),
		stringColumn("Error", "Error of the component conditions"),
	}
}

func printComponentStatus(cs *corev1.ComponentStatus, _ options) (metav1.TableRow, error) {
	status, message, errorText := "Unknown", "", ""
	for _, c := range cs.Conditions {
		if c.Type != corev1.ComponentHealthy {
			continue
		}
		status = "Unhealthy"
		if c.Status == corev1.ConditionTrue {
			status = "Healthy"
		}
		message, errorText = c.Message, c.Error
		break
	}
	return cells(cs.Name, status, message, errorText)
}

func statusColumns() []metav1.TableColumnDefinition {
	status := metav1.Status{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		stringColumn("Status", status["status"]),
		stringColumn("Reason", status["reason"]),
		// Upstream looks the description up under "Message", which the
		// swagger docs do not have, so the column has none.
		stringColumn("Message", status["Message"]),
	}
}

func printStatus(s *metav1.Status, _ options) (metav1.TableRow, error) {
	return cells(s.Status, string(s.Reason), s.Message)
}
