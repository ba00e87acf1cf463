package printers

import (
	"fmt"
	"sort"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	nodev1 "k8s.io/api/node/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func addClusterHandlers(h handlers) {
	register(h, hpaColumns(), func(l *autoscalingv2.HorizontalPodAutoscalerList) []autoscalingv2.HorizontalPodAutoscaler {
		return l.Items
	}, printHPA)
	// Should autoscaling/v1 objects reach a convertor, they print as the v2
	// object they convert to.
	register(h, hpaColumns(), func(l *autoscalingv1.HorizontalPodAutoscalerList) []autoscalingv1.HorizontalPodAutoscaler {
		return l.Items
	}, printHPAV1)
	registerOne(h, scaleColumns(), printScale)
	register(h, priorityClassColumns(), func(l *schedulingv1.PriorityClassList) []schedulingv1.PriorityClass { return l.Items }, printPriorityClass)
	register(h, runtimeClassColumns(), func(l *nodev1.RuntimeClassList) []nodev1.RuntimeClass { return l.Items }, printRuntimeClass)
	register(h, leaseColumns(), func(l *coordinationv1.LeaseList) []coordinationv1.Lease { return l.Items }, printLease)
	register(h, flowSchemaColumns(), func(l *flowcontrolv1.FlowSchemaList) []flowcontrolv1.FlowSchema { return l.Items }, printFlowSchema)
	registerList(h, flowSchemaColumns(), printFlowSchemaList)
	register(h, priorityLevelColumns(), func(l *flowcontrolv1.PriorityLevelConfigurationList) []flowcontrolv1.PriorityLevelConfiguration {
		return l.Items
	}, printPriorityLevelConfiguration)
}

func hpaColumns() []metav1.TableColumnDefinition {
	spec := autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Reference", spec["scaleTargetRef"]),
		stringColumn("Targets", spec["metrics"]),
		stringColumn("MinPods", spec["minReplicas"]),
		stringColumn("MaxPods", spec["maxReplicas"]),
		stringColumn("Replicas", autoscalingv2.HorizontalPodAutoscalerStatus{}.SwaggerDoc()["currentReplicas"]),
		ageColumn(),
	}
}

func printHPA(hpa *autoscalingv2.HorizontalPodAutoscaler, _ options) (metav1.TableRow, error) {
	minPods := "<unset>"
	if hpa.Spec.MinReplicas != nil {
		minPods = fmt.Sprintf("%d", *hpa.Spec.MinReplicas)
	}
	ref := hpa.Spec.ScaleTargetRef
	return cells(hpa.Name, ref.Kind+"/"+ref.Name, hpaTargets(hpa.Spec.Metrics, hpa.Status.CurrentMetrics),
		minPods, int64(hpa.Spec.MaxReplicas), int64(hpa.Status.CurrentReplicas), age(hpa.CreationTimestamp))
}

// printHPAV1 prints what autoscaling/v1 converts to: at most a CPU
// utilisation target and its current value.
func printHPAV1(hpa *autoscalingv1.HorizontalPodAutoscaler, opts options) (metav1.TableRow, error) {
	v2 := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: hpa.ObjectMeta,
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
				Kind: hpa.Spec.ScaleTargetRef.Kind, Name: hpa.Spec.ScaleTargetRef.Name, APIVersion: hpa.Spec.ScaleTargetRef.APIVersion,
			},
			MinReplicas: hpa.Spec.MinReplicas,
			MaxReplicas: hpa.Spec.MaxReplicas,
		},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: hpa.Status.CurrentReplicas},
	}
	if t := hpa.Spec.TargetCPUUtilizationPercentage; t != nil {
		v2.Spec.Metrics = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name:   corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: t},
			},
		}}
	}
	if c := hpa.Status.CurrentCPUUtilizationPercentage; c != nil {
		v2.Status.CurrentMetrics = []autoscalingv2.MetricStatus{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{
				Name:    corev1.ResourceCPU,
				Current: autoscalingv2.MetricValueStatus{AverageUtilization: c},
			},
		}}
	}
	return printHPA(v2, opts)
}

// hpaTargets shows "current/target" for the first two metrics, pairing each
// spec with the status at the same index.
func hpaTargets(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	if len(specs) == 0 {
		return "<none>"
	}
	const limit = 2
	list := make([]string, 0, len(specs))
	for i, spec := range specs {
		var status *autoscalingv2.MetricStatus
		if i < len(statuses) {
			status = &statuses[i]
		}
		list = append(list, hpaTarget(spec, status))
	}
	if len(list) > limit {
		return fmt.Sprintf("%s + %d more...", strings.Join(list[:limit], ", "), len(list)-limit)
	}
	return strings.Join(list, ", ")
}

func hpaTarget(spec autoscalingv2.MetricSpec, status *autoscalingv2.MetricStatus) string {
	const unknown = "<unknown>"
	switch spec.Type {
	case autoscalingv2.ExternalMetricSourceType:
		if spec.External.Target.AverageValue != nil {
			current := unknown
			if status != nil && status.External != nil && status.External.Current.AverageValue != nil {
				current = status.External.Current.AverageValue.String()
			}
			return fmt.Sprintf("%s/%s (avg)", current, spec.External.Target.AverageValue.String())
		}
		current := unknown
		if status != nil && status.External != nil {
			current = status.External.Current.Value.String()
		}
		return fmt.Sprintf("%s/%s", current, spec.External.Target.Value.String())
	case autoscalingv2.PodsMetricSourceType:
		current := unknown
		if status != nil && status.Pods != nil {
			current = status.Pods.Current.AverageValue.String()
		}
		return fmt.Sprintf("%s/%s", current, spec.Pods.Target.AverageValue.String())
	case autoscalingv2.ObjectMetricSourceType:
		if spec.Object.Target.AverageValue != nil {
			current := unknown
			if status != nil && status.Object != nil && status.Object.Current.AverageValue != nil {
				current = status.Object.Current.AverageValue.String()
			}
			return fmt.Sprintf("%s/%s (avg)", current, spec.Object.Target.AverageValue.String())
		}
		current := unknown
		if status != nil && status.Object != nil {
			current = status.Object.Current.Value.String()
		}
		return fmt.Sprintf("%s/%s", current, spec.Object.Target.Value.String())
	case autoscalingv2.ResourceMetricSourceType:
		var current *autoscalingv2.MetricValueStatus
		if status != nil && status.Resource != nil {
			current = &status.Resource.Current
		}
		return resourceTarget(spec.Resource.Name, spec.Resource.Target, current)
	case autoscalingv2.ContainerResourceMetricSourceType:
		var current *autoscalingv2.MetricValueStatus
		if status != nil && status.ContainerResource != nil {
			current = &status.ContainerResource.Current
		}
		return resourceTarget(spec.ContainerResource.Name, spec.ContainerResource.Target, current)
	}
	return "<unknown type>"
}

// resourceTarget formats a (container) resource metric: an average value
// target, or a utilisation target where "<auto>" means none is set.
func resourceTarget(name corev1.ResourceName, target autoscalingv2.MetricTarget, current *autoscalingv2.MetricValueStatus) string {
	if target.AverageValue != nil {
		now := "<unknown>"
		if current != nil {
			now = current.AverageValue.String()
		}
		return fmt.Sprintf("%s: %s/%s", name, now, target.AverageValue.String())
	}
	now := "<unknown>"
	if current != nil && current.AverageUtilization != nil {
		now = fmt.Sprintf("%d%%", *current.AverageUtilization)
	}
	want := "<auto>"
	if target.AverageUtilization != nil {
		want = fmt.Sprintf("%d%%", *target.AverageUtilization)
	}
	return fmt.Sprintf("%s: %s/%s", name, now, want)
}

func scaleColumns() []metav1.TableColumnDefinition {
	// Unlike every other name column, upstream gives this one no format.
	return []metav1.TableColumnDefinition{
		stringColumn("Name", metav1.ObjectMeta{}.SwaggerDoc()["name"]),
		integerColumn("Desired", autoscalingv1.ScaleSpec{}.SwaggerDoc()["replicas"]),
		integerColumn("Available", autoscalingv1.ScaleStatus{}.SwaggerDoc()["replicas"]),
		ageColumn(),
	}
}

func printScale(s *autoscalingv1.Scale, _ options) (metav1.TableRow, error) {
	return cells(s.Name, int64(s.Spec.Replicas), int64(s.Status.Replicas), age(s.CreationTimestamp))
}

func priorityClassColumns() []metav1.TableColumnDefinition {
	doc := schedulingv1.PriorityClass{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		integerColumn("Value", doc["value"]),
		booleanColumn("Global-Default", doc["globalDefault"]),
		ageColumn(),
		// Upstream prints this cell only for wide output yet gives the column
		// priority 0; the server always prints wide, so kubectl shows it.
		stringColumn("PreemptionPolicy", doc["preemptionPolicy"]),
	}
}

func printPriorityClass(pc *schedulingv1.PriorityClass, opts options) (metav1.TableRow, error) {
	row := []any{pc.Name, int64(pc.Value), pc.GlobalDefault, age(pc.CreationTimestamp)}
	if opts.wide {
		policy := ""
		if pc.PreemptionPolicy != nil {
			policy = string(*pc.PreemptionPolicy)
		}
		row = append(row, policy)
	}
	return cells(row...)
}

func runtimeClassColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		// Upstream looks the description up in ObjectMeta's docs, which have
		// no "handler", so the column has none.
		stringColumn("Handler", metav1.ObjectMeta{}.SwaggerDoc()["handler"]),
		ageColumn(),
	}
}

func printRuntimeClass(rc *nodev1.RuntimeClass, _ options) (metav1.TableRow, error) {
	return cells(rc.Name, rc.Handler, age(rc.CreationTimestamp))
}

func leaseColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Holder", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]),
		ageColumn(),
	}
}

func printLease(l *coordinationv1.Lease, _ options) (metav1.TableRow, error) {
	holder := ""
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	return cells(l.Name, holder, age(l.CreationTimestamp))
}

func flowSchemaColumns() []metav1.TableColumnDefinition {
	spec := flowcontrolv1.FlowSchemaSpec{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("PriorityLevel", flowcontrolv1.PriorityLevelConfigurationReference{}.SwaggerDoc()["name"]),
		stringColumn("MatchingPrecedence", spec["matchingPrecedence"]),
		stringColumn("DistinguisherMethod", spec["distinguisherMethod"]),
		ageColumn(),
		stringColumn("MissingPL", "references a broken or non-existent PriorityLevelConfiguration"),
	}
}

func printFlowSchema(fs *flowcontrolv1.FlowSchema, _ options) (metav1.TableRow, error) {
	distinguisher := "<none>"
	if fs.Spec.DistinguisherMethod != nil {
		distinguisher = string(fs.Spec.DistinguisherMethod.Type)
	}
	// "?" until the config controller has said whether the priority level
	// exists.
	missing := "?"
	for _, c := range fs.Status.Conditions {
		if c.Type == flowcontrolv1.FlowSchemaConditionDangling {
			missing = string(c.Status)
			break
		}
	}
	return cells(fs.Name, fs.Spec.PriorityLevelConfiguration.Name, int64(fs.Spec.MatchingPrecedence), distinguisher,
		age(fs.CreationTimestamp), missing)
}

// printFlowSchemaList prints flow schemas in the order the server matches
// requests against them.
func printFlowSchemaList(list *flowcontrolv1.FlowSchemaList, opts options) ([]metav1.TableRow, error) {
	ordered := make([]*flowcontrolv1.FlowSchema, len(list.Items))
	for i := range list.Items {
		ordered[i] = &list.Items[i]
	}
	sort.SliceStable(ordered, func(i, j int) bool {
		if a, b := ordered[i].Spec.MatchingPrecedence, ordered[j].Spec.MatchingPrecedence; a != b {
			return a < b
		}
		return ordered[i].Name < ordered[j].Name
	})
	rows := make([]metav1.TableRow, 0, len(ordered))
	for _, fs := range ordered {
		row, err := printRow(fs, opts, printFlowSchema)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func priorityLevelColumns() []metav1.TableColumnDefinition {
	queuing := flowcontrolv1.QueuingConfiguration{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Type", flowcontrolv1.PriorityLevelConfigurationSpec{}.SwaggerDoc()["type"]),
		stringColumn("NominalConcurrencyShares", flowcontrolv1.LimitedPriorityLevelConfiguration{}.SwaggerDoc()["nominalConcurrencyShares"]),
		stringColumn("Queues", queuing["queues"]),
		stringColumn("HandSize", queuing["handSize"]),
		stringColumn("QueueLengthLimit", queuing["queueLengthLimit"]),
		ageColumn(),
	}
}

// printPriorityLevelConfiguration prints the numbers as int64 where upstream
// has int32: the JSON is the same, and a table cell must be a JSON value
// type so that the table can be deep-copied.
func printPriorityLevelConfiguration(pl *flowcontrolv1.PriorityLevelConfiguration, _ options) (metav1.TableRow, error) {
	var shares, queues, handSize, queueLength any = "<none>", "<none>", "<none>", "<none>"
	if limited := pl.Spec.Limited; limited != nil {
		shares = int64(derefInt32(limited.NominalConcurrencyShares))
		if q := limited.LimitResponse.Queuing; q != nil {
			queues, handSize, queueLength = int64(q.Queues), int64(q.HandSize), int64(q.QueueLengthLimit)
		}
	}
	return cells(pl.Name, string(pl.Spec.Type), shares, queues, handSize, queueLength, age(pl.CreationTimestamp))
}
