package deploy

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dapr/dapr/pkg/acl"
	daprconfig "github.com/dapr/dapr/pkg/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// call is one sidecar-to-sidecar invocation: caller app, target app,
// operation (path, or gRPC full method) and HTTP verb ("" for gRPC).
type call struct{ from, to, op, verb string }

// flows are every invocation the system makes: the gateway's routes (as
// forwarded), the services' key fetches, patient-service's billing calls
// and the gateway's calls for /billing.
var flows = []call{
	{"api-gateway", "auth-service", "/login", "POST"},
	{"api-gateway", "auth-service", "/refresh", "POST"},
	{"api-gateway", "auth-service", "/logout", "POST"},
	{"api-gateway", "auth-service", "/.well-known/jwks.json", "GET"},
	{"api-gateway", "auth-service", "/.well-known/openid-configuration", "GET"},
	{"api-gateway", "auth-service", "/users", "GET"},
	{"api-gateway", "auth-service", "/users", "POST"},
	{"api-gateway", "auth-service", "/users/6f1c4a50-0000-4000-8000-0000000000aa", "PATCH"},
	{"api-gateway", "patient-service", "/patients", "GET"},
	{"api-gateway", "patient-service", "/patients", "POST"},
	{"api-gateway", "patient-service", "/patients/6f1c4a50-0000-4000-8000-0000000000aa", "GET"},
	{"api-gateway", "patient-service", "/patients/6f1c4a50-0000-4000-8000-0000000000aa", "PUT"},
	{"api-gateway", "patient-service", "/patients/6f1c4a50-0000-4000-8000-0000000000aa", "PATCH"},
	{"api-gateway", "patient-service", "/patients/6f1c4a50-0000-4000-8000-0000000000aa", "DELETE"},
	{"api-gateway", "patient-service", "/patients/6f1c4a50-0000-4000-8000-0000000000aa/audit", "GET"},
	{"api-gateway", "patient-service", "/fhir/R4/metadata", "GET"},
	{"api-gateway", "patient-service", "/fhir/R4/Patient", "POST"},
	{"api-gateway", "patient-service", "/fhir/R4/Patient/_search", "POST"},
	{"api-gateway", "patient-service", "/fhir/R4/Patient/6f1c4a50-0000-4000-8000-0000000000aa", "PUT"},
	{"api-gateway", "patient-service", "/fhir/R4/Patient/6f1c4a50-0000-4000-8000-0000000000aa", "DELETE"},
	{"api-gateway", "patient-service", "/fhir/R4/Patient/6f1c4a50-0000-4000-8000-0000000000aa/_history/2", "GET"},
	{"api-gateway", "analytics-service", "/analytics/summary", "GET"},
	{"patient-service", "auth-service", "/.well-known/jwks.json", "GET"},
	{"analytics-service", "auth-service", "/.well-known/jwks.json", "GET"},
	{"patient-service", "billing-service", "/pms.billing.v1.BillingService/CreateBillingAccount", ""},
	{"patient-service", "billing-service", "/pms.billing.v1.BillingService/CreateBillingAccounts", ""},
	{"patient-service", "billing-service", "/pms.billing.v1.BillingService/GetBillingAccount", ""},
	{"billing-service", "auth-service", "/.well-known/jwks.json", "GET"},
}

// The gateway's /billing routes call billing-service's staff methods.
func init() {
	for _, m := range []string{"ListAccounts", "GetAccount", "ListEntries", "GetEntry", "PostCharge", "PostPayment",
		"PostAdjustment", "ReverseEntry", "ChangeAccountStatus", "GetStatement", "ListAudit"} {
		flows = append(flows, call{"api-gateway", "billing-service", "/pms.billing.v1.BillingService/" + m, ""})
	}
}

// refused are invocations no policy may allow.
var refused = []call{
	{"analytics-service", "billing-service", "/pms.billing.v1.BillingService/CreateBillingAccount", ""},
	{"api-gateway", "billing-service", "/pms.billing.v1.BillingService/GetBillingAccount", ""},
	{"api-gateway", "billing-service", "/pms.billing.v1.BillingService/CreateBillingAccount", ""},
	{"api-gateway", "billing-service", "/pms.billing.v1.BillingService/CreateBillingAccounts", ""},
	{"patient-service", "billing-service", "/pms.billing.v1.BillingService/PostCharge", ""},
	{"analytics-service", "billing-service", "/pms.billing.v1.BillingService/ListAccounts", ""},
	{"billing-service", "auth-service", "/users", "GET"},
	{"analytics-service", "patient-service", "/patients", "GET"},
	{"billing-service", "patient-service", "/patients", "GET"},
	{"analytics-service", "patient-service", "/fhir/R4/Patient", "GET"},
	{"api-gateway", "patient-service", "/fhir/R4/Patient", "PATCH"},
	{"patient-service", "auth-service", "/users", "POST"},
	{"patient-service", "analytics-service", "/analytics/summary", "GET"},
	{"auth-service", "api-gateway", "/patients", "GET"},
	{"api-gateway", "analytics-service", "/events/patient", "POST"},
	{"api-gateway", "auth-service", "/login", "DELETE"},
}

// allowed evaluates c against the target's access-control list as Dapr
// does for a caller with a workload certificate of app c.from in namespace
// ns: its policy if there is one, else the list's default action.
func allowed(t *testing.T, list *daprconfig.AccessControlList, c call, ns string) bool {
	t.Helper()
	action := list.DefaultAction
	policy, ok := list.PolicySpec[c.from+"||"+ns]
	if ok && policy.TrustDomain == list.TrustDomain && policy.Namespace == ns {
		action = policy.DefaultAction
		op := c.op
		if c.verb != "" {
			op = strings.ToLower(op)
		}
		if found := policy.AppOperationActions.Search(op); found != nil {
			if c.verb == "" {
				action = found.OperationAction
			} else if a, ok := found.VerbAction[c.verb]; ok {
				action = a
			}
		}
	}
	return action == daprconfig.AllowAccess
}

// checkACLs parses each app's access control with Dapr's own parser and
// checks every flow is allowed and every refused call denied.
func checkACLs(t *testing.T, specs map[string]*daprconfig.AccessControlSpec, ns string) {
	t.Helper()
	httpApp := map[string]bool{}
	for _, a := range templateApps(t) {
		httpApp[a.AppID] = a.AppProtocol != "grpc"
	}
	lists := map[string]*daprconfig.AccessControlList{}
	for app, spec := range specs {
		require.NotNil(t, spec, "%s has an accessControl policy", app)
		assert.Equal(t, daprconfig.DenyAccess, spec.DefaultAction, "%s denies by default", app)
		for _, p := range spec.AppPolicies {
			assert.NotEmpty(t, p.TrustDomain, "%s: policy for %s names its trust domain", app, p.AppName)
			assert.Equal(t, ns, p.Namespace, "%s: policy for %s names the namespace", app, p.AppName)
		}
		// As the sidecar does: HTTP operations match case-insensitively.
		list, err := acl.ParseAccessControlSpec(spec, httpApp[app])
		require.NoError(t, err, "%s: Dapr's parser accepts the policy", app)
		lists[app] = list
	}
	for _, c := range flows {
		assert.True(t, allowed(t, lists[c.to], c, ns), "%s → %s %s %s must be allowed", c.from, c.to, c.verb, c.op)
	}
	for _, c := range refused {
		assert.False(t, allowed(t, lists[c.to], c, ns), "%s → %s %s %s must be refused", c.from, c.to, c.verb, c.op)
	}
}

// The local configurations (dapr/config, loaded by the runner's and
// the CLI's sidecars) allow exactly the system's flows.
func TestLocalAccessControlAllowsOnlyTheFlows(t *testing.T) {
	specs := map[string]*daprconfig.AccessControlSpec{}
	for id := range appIDs(t) {
		cfg, err := daprconfig.LoadStandaloneConfiguration(filepath.Join(root(t), "dapr", "config", id+".yaml"))
		require.NoError(t, err, id)
		specs[id] = cfg.Spec.AccessControlSpec
		assert.True(t, hasGRPCRule(cfg.Spec.APISpec), "%s: a gRPC rule, or the gRPC API allows everything", id)
	}
	checkACLs(t, specs, "default")
}

// The Kubernetes Configurations do the same, with the overlay's namespace.
func TestKubernetesAccessControlAllowsOnlyTheFlows(t *testing.T) {
	for _, o := range []struct{ dir, ns string }{{"overlays/dev", "pms-dev"}, {"overlays/prod", "pms"}, {"overlays/one-node", "pms-dev"}} {
		t.Run(o.dir, func(t *testing.T) {
			specs := map[string]*daprconfig.AccessControlSpec{}
			for _, c := range build(t, k8sDir(t, o.dir)).configs {
				raw, err := json.Marshal(c.Spec)
				require.NoError(t, err)
				var spec daprconfig.ConfigurationSpec
				require.NoError(t, json.Unmarshal(raw, &spec), c.Name)
				specs[c.Name] = spec.AccessControlSpec
				assert.True(t, hasGRPCRule(spec.APISpec), "%s: a gRPC rule, or the gRPC API allows everything", c.Name)
			}
			require.Len(t, specs, len(appIDs(t)))
			checkACLs(t, specs, o.ns)
		})
	}
}

func hasGRPCRule(api *daprconfig.APISpec) bool {
	if api == nil {
		return false
	}
	for _, r := range api.Allowed {
		if r.Protocol == daprconfig.APIAccessRuleProtocolGRPC {
			return true
		}
	}
	return false
}
