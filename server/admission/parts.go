package admission

import (
	"fmt"

	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/informers"
	corev1listers "k8s.io/client-go/listers/core/v1"
)

// The parts below are what several plugins share: embedding one gives a
// plugin its admission.Handler, the dependency it needs from the admission
// initializers, and the check that it was given.

// withAuthorizer is a plugin that asks the authorizer, as the certificate
// plugins do about signers.
type withAuthorizer struct {
	*admission.Handler
	plugin string
	authz  authorizer.UnconditionalAuthorizer
}

func newWithAuthorizer(plugin string, ops ...admission.Operation) withAuthorizer {
	return withAuthorizer{Handler: admission.NewHandler(ops...), plugin: plugin}
}

func (p *withAuthorizer) SetUnconditionalAuthorizer(a authorizer.UnconditionalAuthorizer) {
	p.authz = a
}

func (p *withAuthorizer) ValidateInitialization() error {
	if p.authz == nil {
		return fmt.Errorf("%s requires an authorizer", p.plugin)
	}
	return nil
}

// withNodes is a plugin that reads nodes from the informer cache; it is
// ready once that cache has synced.
type withNodes struct {
	*admission.Handler
	plugin string
	nodes  corev1listers.NodeLister
}

func newWithNodes(plugin string, ops ...admission.Operation) withNodes {
	return withNodes{Handler: admission.NewHandler(ops...), plugin: plugin}
}

func (p *withNodes) SetExternalKubeInformerFactory(f informers.SharedInformerFactory) {
	nodes := f.Core().V1().Nodes()
	p.nodes = nodes.Lister()
	p.SetReadyFunc(nodes.Informer().HasSynced)
}

func (p *withNodes) ValidateInitialization() error {
	if p.nodes == nil {
		return fmt.Errorf("missing node lister for %s", p.plugin)
	}
	return nil
}
