package upstreamdiff

import (
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	api "k8s.io/kubernetes/pkg/apis/core"
	"k8s.io/utils/ptr"
)

// shapeKnown walks an object and steers fields that printers compare with
// well-known constants towards those constants, so random objects reach the
// branches random strings never would.
func shapeKnown(v reflect.Value, r *rand.Rand) {
	pick := func(s ...string) string { return s[r.Intn(len(s))] }
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			shapeKnown(v.Elem(), r)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			shapeKnown(v.Index(i), r)
		}
	case reflect.Struct:
		name := v.Type().Name()
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if !f.CanSet() {
				continue
			}
			fn := v.Type().Field(i).Name
			switch {
			case strings.HasSuffix(name, "Condition") && fn == "Type" && f.Kind() == reflect.String:
				f.SetString(pick("Ready", "Initialized", "PodScheduled", "Complete", "Failed", "Suspended", "FailureTarget",
					"SuccessCriteriaMet", "Approved", "Denied", "Issued", "Healthy", "Dangling", "Running", "Succeeded", f.String()))
			case strings.HasSuffix(name, "Condition") && fn == "Status" && f.Kind() == reflect.String:
				f.SetString(pick("True", "False", "Unknown"))
			case name == "NodeAddress" && fn == "Type":
				f.SetString(pick("InternalIP", "ExternalIP", "Hostname"))
			case name == "ServiceSpec" && fn == "Type":
				f.SetString(pick("ClusterIP", "NodePort", "LoadBalancer", "ExternalName", f.String()))
			case name == "ObjectMeta" && (fn == "Labels" || fn == "Annotations"):
				if r.Intn(2) == 0 {
					if f.IsNil() {
						f.Set(reflect.MakeMap(f.Type()))
					}
					for _, k := range []string{"node-role.kubernetes.io/" + pick("", "control-plane", "worker"), "kubernetes.io/role",
						"storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class",
						"ingressclass.kubernetes.io/is-default-class", "volume.beta.kubernetes.io/storage-class"} {
						if r.Intn(3) == 0 {
							f.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(pick("", "true", "worker", "false")))
						}
					}
				}
			default:
				shapeKnown(f, r)
			}
		}
	}
}

// shapePods makes random pods hit the interesting branches: statuses that name
// spec containers, sidecars, and the well-known phases, reasons and states.
func shapePods(obj runtime.Object, r *rand.Rand) {
	var pods []*api.Pod
	switch o := obj.(type) {
	case *api.Pod:
		pods = []*api.Pod{o}
	case *api.PodList:
		for i := range o.Items {
			pods = append(pods, &o.Items[i])
		}
	}
	pick := func(s ...string) string { return s[r.Intn(len(s))] }
	always := api.ContainerRestartPolicyAlways
	for _, p := range pods {
		p.Status.Phase = api.PodPhase(pick("Pending", "Running", "Succeeded", "Failed", "Unknown", ""))
		p.Status.Reason = pick("", "", "NodeLost", "Evicted")
		for i := range p.Spec.InitContainers {
			if r.Intn(2) == 0 {
				p.Spec.InitContainers[i].RestartPolicy = &always
			} else {
				p.Spec.InitContainers[i].RestartPolicy = nil
			}
		}
		now := time.Now()
		gen := func(specs []api.Container) []api.ContainerStatus {
			n := r.Intn(len(specs) + 2)
			statuses := make([]api.ContainerStatus, n)
			for i := range statuses {
				statuses[i].Name = fmt.Sprintf("other-%d", i)
				if i < len(specs) && r.Intn(4) != 0 {
					statuses[i].Name = specs[i].Name
				}
				st := &statuses[i].State
				switch r.Intn(5) {
				case 0:
					st.Waiting = &api.ContainerStateWaiting{Reason: pick("", "PodInitializing", "CrashLoopBackOff", "ContainerCreating")}
				case 1:
					st.Running = &api.ContainerStateRunning{}
				case 2, 3:
					st.Terminated = &api.ContainerStateTerminated{Reason: pick("", "Completed", "Error"), ExitCode: int32(r.Intn(2)), Signal: int32(r.Intn(2) * 9)}
				}
				if r.Intn(2) == 0 {
					statuses[i].LastTerminationState.Terminated = &api.ContainerStateTerminated{FinishedAt: metav1.NewTime(now.Add(-time.Duration(r.Intn(100000)) * time.Second))}
				}
				statuses[i].Ready = r.Intn(2) == 0
				statuses[i].RestartCount = int32(r.Intn(3))
				switch r.Intn(3) {
				case 0:
					statuses[i].Started = nil
				case 1:
					statuses[i].Started = ptr.To(true)
				default:
					statuses[i].Started = ptr.To(false)
				}
			}
			return statuses
		}
		for i := range p.Spec.InitContainers {
			p.Spec.InitContainers[i].Name = fmt.Sprintf("init-%d", i)
		}
		for i := range p.Spec.Containers {
			p.Spec.Containers[i].Name = fmt.Sprintf("c-%d", i)
		}
		p.Status.InitContainerStatuses = gen(p.Spec.InitContainers)
		p.Status.ContainerStatuses = gen(p.Spec.Containers)
		p.Status.Conditions = make([]api.PodCondition, r.Intn(4))
		for i := range p.Status.Conditions {
			p.Status.Conditions[i].Type = api.PodConditionType(pick("Ready", "Initialized", "PodScheduled", "x"))
			p.Status.Conditions[i].Status = api.ConditionStatus(pick("True", "False"))
			p.Status.Conditions[i].Reason = pick("", "SchedulingGated")
		}
	}
}
