package printers

import (
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	certificatesv1beta1 "k8s.io/api/certificates/v1beta1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	rbacv1beta1 "k8s.io/api/rbac/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/duration"
)

func addPolicyAndAccessHandlers(h handlers) {
	register(h, podDisruptionBudgetColumns(), func(l *policyv1.PodDisruptionBudgetList) []policyv1.PodDisruptionBudget { return l.Items }, printPodDisruptionBudget)

	// Upstream takes the RoleRef descriptions from rbac/v1beta1, whose docs
	// lack v1's "This field is immutable." sentence.
	register(h, bindingColumns(rbacv1beta1.RoleBinding{}.SwaggerDoc()["roleRef"], "roleBinding"),
		func(l *rbacv1.RoleBindingList) []rbacv1.RoleBinding { return l.Items }, printRoleBinding)
	register(h, bindingColumns(rbacv1beta1.ClusterRoleBinding{}.SwaggerDoc()["roleRef"], "clusterRoleBinding"),
		func(l *rbacv1.ClusterRoleBindingList) []rbacv1.ClusterRoleBinding { return l.Items }, printClusterRoleBinding)

	register(h, csrColumns(), func(l *certificatesv1.CertificateSigningRequestList) []certificatesv1.CertificateSigningRequest {
		return l.Items
	}, printCSR)
	register(h, clusterTrustBundleColumns(), func(l *certificatesv1.ClusterTrustBundleList) []certificatesv1.ClusterTrustBundle { return l.Items }, printClusterTrustBundle)
	register(h, podCertificateRequestColumns(), func(l *certificatesv1.PodCertificateRequestList) []certificatesv1.PodCertificateRequest {
		return l.Items
	}, printPodCertificateRequest)

	webhooks := []metav1.TableColumnDefinition{
		nameColumn(),
		integerColumn("Webhooks", "Webhooks indicates the number of webhooks registered in this configuration"),
		ageColumn(),
	}
	register(h, webhooks, func(l *admissionregistrationv1.MutatingWebhookConfigurationList) []admissionregistrationv1.MutatingWebhookConfiguration {
		return l.Items
	}, printMutatingWebhookConfiguration)
	register(h, webhooks, func(l *admissionregistrationv1.ValidatingWebhookConfigurationList) []admissionregistrationv1.ValidatingWebhookConfiguration {
		return l.Items
	}, printValidatingWebhookConfiguration)
	register(h, admissionPolicyColumns("Validations", "Validations indicates the number of validation rules defined in this configuration"),
		func(l *admissionregistrationv1.ValidatingAdmissionPolicyList) []admissionregistrationv1.ValidatingAdmissionPolicy {
			return l.Items
		},
		printValidatingAdmissionPolicy)
	register(h, admissionPolicyColumns("Mutations", "Mutation indicates the number of mutations rules defined in this configuration"),
		func(l *admissionregistrationv1.MutatingAdmissionPolicyList) []admissionregistrationv1.MutatingAdmissionPolicy {
			return l.Items
		},
		printMutatingAdmissionPolicy)
	register(h, admissionPolicyBindingColumns(),
		func(l *admissionregistrationv1.ValidatingAdmissionPolicyBindingList) []admissionregistrationv1.ValidatingAdmissionPolicyBinding {
			return l.Items
		}, printValidatingAdmissionPolicyBinding)
	register(h, admissionPolicyBindingColumns(),
		func(l *admissionregistrationv1.MutatingAdmissionPolicyBindingList) []admissionregistrationv1.MutatingAdmissionPolicyBinding {
			return l.Items
		}, printMutatingAdmissionPolicyBinding)
}

func podDisruptionBudgetColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Min Available", "The minimum number of pods that must be available."),
		stringColumn("Max Unavailable", "The maximum number of pods that may be unavailable."),
		integerColumn("Allowed Disruptions", "Calculated number of pods that may be disrupted at this time."),
		ageColumn(),
	}
}

func printPodDisruptionBudget(pdb *policyv1.PodDisruptionBudget, _ options) (metav1.TableRow, error) {
	minAvailable, maxUnavailable := "N/A", "N/A"
	if pdb.Spec.MinAvailable != nil {
		minAvailable = pdb.Spec.MinAvailable.String()
	}
	if pdb.Spec.MaxUnavailable != nil {
		maxUnavailable = pdb.Spec.MaxUnavailable.String()
	}
	return cells(pdb.Name, minAvailable, maxUnavailable, int64(pdb.Status.DisruptionsAllowed), age(pdb.CreationTimestamp))
}

func bindingColumns(roleRefDoc, kind string) []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Role", roleRefDoc),
		ageColumn(),
		wide(stringColumn("Users", "Users in the "+kind)),
		wide(stringColumn("Groups", "Groups in the "+kind)),
		wide(stringColumn("ServiceAccounts", "ServiceAccounts in the "+kind)),
	}
}

func printRoleBinding(b *rbacv1.RoleBinding, opts options) (metav1.TableRow, error) {
	return bindingRow(&b.ObjectMeta, b.RoleRef, b.Subjects, opts)
}

func printClusterRoleBinding(b *rbacv1.ClusterRoleBinding, opts options) (metav1.TableRow, error) {
	return bindingRow(&b.ObjectMeta, b.RoleRef, b.Subjects, opts)
}

func bindingRow(meta *metav1.ObjectMeta, ref rbacv1.RoleRef, subjects []rbacv1.Subject, opts options) (metav1.TableRow, error) {
	row := []any{meta.Name, ref.Kind + "/" + ref.Name, age(meta.CreationTimestamp)}
	if opts.wide {
		// Subjects of other kinds are not shown.
		users, groups, serviceAccounts := []string{}, []string{}, []string{}
		for _, s := range subjects {
			switch s.Kind {
			case rbacv1.ServiceAccountKind:
				serviceAccounts = append(serviceAccounts, s.Namespace+"/"+s.Name)
			case rbacv1.UserKind:
				users = append(users, s.Name)
			case rbacv1.GroupKind:
				groups = append(groups, s.Name)
			}
		}
		row = append(row, strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(serviceAccounts, ", "))
	}
	return cells(row...)
}

func csrColumns() []metav1.TableColumnDefinition {
	spec := certificatesv1beta1.CertificateSigningRequestSpec{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		ageColumn(),
		stringColumn("SignerName", spec["signerName"]),
		stringColumn("Requestor", spec["request"]),
		stringColumn("RequestedDuration", spec["expirationSeconds"]),
		stringColumn("Condition", certificatesv1beta1.CertificateSigningRequestStatus{}.SwaggerDoc()["conditions"]),
	}
}

func printCSR(csr *certificatesv1.CertificateSigningRequest, _ options) (metav1.TableRow, error) {
	signer := orNone(csr.Spec.SignerName)
	requested := "<none>"
	if csr.Spec.ExpirationSeconds != nil {
		requested = duration.HumanDuration(time.Duration(*csr.Spec.ExpirationSeconds) * time.Second)
	}
	return cells(csr.Name, age(csr.CreationTimestamp), signer, csr.Spec.Username, requested, csrCondition(csr))
}

// csrCondition is Denied, Approved or Pending (in that precedence), then
// Failed and Issued when they apply.
func csrCondition(csr *certificatesv1.CertificateSigningRequest) string {
	var approved, denied, failed bool
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		case certificatesv1.CertificateFailed:
			failed = true
		}
	}
	status := "Pending"
	if denied {
		status = "Denied"
	} else if approved {
		status = "Approved"
	}
	if failed {
		status += ",Failed"
	}
	if len(csr.Status.Certificate) > 0 {
		status += ",Issued"
	}
	return status
}

func clusterTrustBundleColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("SignerName", certificatesv1.ClusterTrustBundleSpec{}.SwaggerDoc()["signerName"]),
	}
}

func printClusterTrustBundle(b *certificatesv1.ClusterTrustBundle, _ options) (metav1.TableRow, error) {
	return cells(b.Name, orNone(b.Spec.SignerName))
}

func podCertificateRequestColumns() []metav1.TableColumnDefinition {
	spec := certificatesv1.PodCertificateRequestSpec{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("PodName", spec["podName"]),
		stringColumn("ServiceAccountName", spec["serviceAccountName"]),
		stringColumn("NodeName", spec["nodeName"]),
		stringColumn("SignerName", spec["signerName"]),
		stringColumn("State", "Is the request Pending, Issued, Denied, or Failed?"),
		stringColumn("UnverifiedUserAnnotations", spec["unverifiedUserAnnotations"]),
	}
}

func printPodCertificateRequest(r *certificatesv1.PodCertificateRequest, opts options) (metav1.TableRow, error) {
	// Issued, Denied and Failed exclude each other and are only ever True.
	state := "Pending"
	for _, c := range r.Status.Conditions {
		switch c.Type {
		case certificatesv1.PodCertificateRequestConditionTypeIssued,
			certificatesv1.PodCertificateRequestConditionTypeDenied,
			certificatesv1.PodCertificateRequestConditionTypeFailed:
			state = c.Type
		}
	}
	row := []any{r.Name, r.Spec.PodName, r.Spec.ServiceAccountName, string(r.Spec.NodeName), r.Spec.SignerName, state}
	if opts.wide {
		row = append(row, labels.FormatLabels(r.Spec.UnverifiedUserAnnotations))
	}
	return cells(row...)
}

func printMutatingWebhookConfiguration(c *admissionregistrationv1.MutatingWebhookConfiguration, _ options) (metav1.TableRow, error) {
	return cells(c.Name, int64(len(c.Webhooks)), age(c.CreationTimestamp))
}

func printValidatingWebhookConfiguration(c *admissionregistrationv1.ValidatingWebhookConfiguration, _ options) (metav1.TableRow, error) {
	return cells(c.Name, int64(len(c.Webhooks)), age(c.CreationTimestamp))
}

func admissionPolicyColumns(countName, countDescription string) []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		integerColumn(countName, countDescription),
		stringColumn("ParamKind", "ParamKind specifies the kind of resources used to parameterize this policy"),
		ageColumn(),
	}
}

func paramKind(k *admissionregistrationv1.ParamKind) string {
	if k == nil {
		return "<unset>"
	}
	return k.APIVersion + "/" + k.Kind
}

func printValidatingAdmissionPolicy(p *admissionregistrationv1.ValidatingAdmissionPolicy, _ options) (metav1.TableRow, error) {
	return cells(p.Name, int64(len(p.Spec.Validations)), paramKind(p.Spec.ParamKind), age(p.CreationTimestamp))
}

func printMutatingAdmissionPolicy(p *admissionregistrationv1.MutatingAdmissionPolicy, _ options) (metav1.TableRow, error) {
	return cells(p.Name, int64(len(p.Spec.Mutations)), paramKind(p.Spec.ParamKind), age(p.CreationTimestamp))
}

func admissionPolicyBindingColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("PolicyName", "PolicyName indicates the policy definition which the policy binding binded to"),
		stringColumn("ParamRef", "ParamRef indicates the param resource which sets the configuration param"),
		ageColumn(),
	}
}

// paramRef names the parameter a binding uses: namespace/name, "*/name" when
// the namespace is unknown (it may be cluster-scoped), or its selector.
func paramRef(ref *admissionregistrationv1.ParamRef) string {
	switch {
	case ref == nil:
		return "<unset>"
	case ref.Name != "" && ref.Namespace != "":
		return ref.Namespace + "/" + ref.Name
	case ref.Name != "":
		return "*/" + ref.Name
	case ref.Selector != nil:
		return ref.Selector.String()
	}
	return "<unset>"
}

func printValidatingAdmissionPolicyBinding(b *admissionregistrationv1.ValidatingAdmissionPolicyBinding, _ options) (metav1.TableRow, error) {
	return cells(b.Name, b.Spec.PolicyName, paramRef(b.Spec.ParamRef), age(b.CreationTimestamp))
}

func printMutatingAdmissionPolicyBinding(b *admissionregistrationv1.MutatingAdmissionPolicyBinding, _ options) (metav1.TableRow, error) {
	return cells(b.Name, b.Spec.PolicyName, paramRef(b.Spec.ParamRef), age(b.CreationTimestamp))
}
