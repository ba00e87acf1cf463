package v1

import (
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	"k8s.io/utils/ptr"
)

func SetDefaults_FlowSchemaSpec(spec *flowcontrolv1.FlowSchemaSpec) {
	if spec.MatchingPrecedence == 0 {
		spec.MatchingPrecedence = 1000
	}
}

// An exempt level borrows and lends nothing unless told to.
func SetDefaults_ExemptPriorityLevelConfiguration(plc *flowcontrolv1.ExemptPriorityLevelConfiguration) {
	if plc.NominalConcurrencyShares == nil {
		plc.NominalConcurrencyShares = ptr.To[int32](0)
	}
	if plc.LendablePercent == nil {
		plc.LendablePercent = ptr.To[int32](0)
	}
}

func SetDefaults_LimitedPriorityLevelConfiguration(plc *flowcontrolv1.LimitedPriorityLevelConfiguration) {
	if plc.NominalConcurrencyShares == nil {
		plc.NominalConcurrencyShares = ptr.To[int32](30)
	}
	if plc.LendablePercent == nil {
		plc.LendablePercent = ptr.To[int32](0)
	}
}

func SetDefaults_QueuingConfiguration(cfg *flowcontrolv1.QueuingConfiguration) {
	if cfg.HandSize == 0 {
		cfg.HandSize = 8
	}
	if cfg.Queues == 0 {
		cfg.Queues = 64
	}
	if cfg.QueueLengthLimit == 0 {
		cfg.QueueLengthLimit = 50
	}
}
