package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mrnSystem is patient-service's default FHIR_MRN_SYSTEM.
const mrnSystem = "http://pms.example.org/fhir/sid/mrn"

const fhirBase = gateway + "/fhir/R4"

// The FHIR API driven by two third-party clients (tests/fhir, Node's test
// runner): every interaction, every answer validated against the R4
// StructureDefinitions and US Core's Patient profile, and every search
// compared with @medplum/core's matcher over all live patients.
func TestFHIRWithThirdPartyClients(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	webTool(t, root, filepath.Join("@medplum", "core", "package.json"))
	webTool(t, root, filepath.Join("fhir-kit-client", "package.json"))
	cmd := exec.Command("node", "--test", "--test-reporter=spec", filepath.Join(root, "tests", "fhir"))
	cmd.Env = append(os.Environ(),
		"GATEWAY="+gateway,
		"ADMIN_EMAIL="+sys.AdminEmail,
		"ADMIN_PASSWORD="+sys.AdminPassword,
		"MRN_SYSTEM="+mrnSystem,
		"WEB_MODULES="+filepath.Join(root, "tools", "web", "node_modules"),
	)
	out, err := cmd.CombinedOutput()
	t.Logf("tests/fhir:\n%s", out)
	require.NoError(t, err, "the FHIR client suite failed")
	assert.Contains(t, string(out), "validated ")
}

// fhirPatient is a FHIR Patient body for identifier mrn.
func fhirPatient(mrn, email string) map[string]any {
	return map[string]any{
		"resourceType": "Patient",
		"identifier":   []map[string]string{{"system": mrnSystem, "value": mrn}},
		"name":         []map[string]any{{"family": "Race", "given": []string{"Condi"}}},
		"telecom":      []map[string]string{{"system": "email", "value": email}},
		"birthDate":    "1970-01-01",
		"address":      []map[string]string{{"text": "1 Race Way"}},
	}
}

// Many concurrent conditional creates of one identifier make one patient:
// one 201, every other answer 200 with that same patient.
func TestFHIRConcurrentConditionalCreatesMakeOnePatient(t *testing.T) {
	mrn := "RACE-" + uuid.NewString()[:8]
	const n = 24
	var wg sync.WaitGroup
	answers := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Different emails: only the condition can keep them to one.
			answers[i] = doAs(t, adminToken, http.MethodPost, fhirBase+"/Patient",
				fhirPatient(mrn, "race-"+uuid.NewString()[:8]+"@example.org"),
				"Content-Type", "application/fhir+json", "If-None-Exist", "identifier="+mrnSystem+"|"+mrn)
		}()
	}
	wg.Wait()
	created, ids := 0, map[string]bool{}
	for _, a := range answers {
		require.Contains(t, []int{http.StatusOK, http.StatusCreated}, a.status, "%s", a.body)
		if a.status == http.StatusCreated {
			created++
		}
		var p struct{ ID string }
		require.NoError(t, json.Unmarshal(a.body, &p))
		ids[p.ID] = true
	}
	assert.Equal(t, 1, created, "one create")
	assert.Len(t, ids, 1, "every answer is the same patient")

	search := doAs(t, adminToken, http.MethodGet, fhirBase+"/Patient?identifier="+mrnSystem+"|"+mrn, nil)
	require.Equal(t, http.StatusOK, search.status)
	var b struct{ Entry []any }
	require.NoError(t, json.Unmarshal(search.body, &b))
	assert.Len(t, b.Entry, 1, "one patient has the identifier")
}

// Errors from every layer in front of the FHIR API are OperationOutcomes:
// the gateway's token check, its role rules, its path check and routing,
// and the app's own.
func TestFHIRErrorsAreOperationOutcomes(t *testing.T) {
	clinician := tokenFor(t, "clinician")
	billing := tokenFor(t, "billing")
	id := uuid.NewString()
	for _, c := range []struct {
		name, token, method, url string
		want                     int
		body                     any
		headers                  []string
	}{
		{"no token", "", http.MethodGet, fhirBase + "/Patient", http.StatusUnauthorized, nil, nil},
		{"delete as a clinician", clinician, http.MethodDelete, fhirBase + "/Patient/" + id, http.StatusForbidden, nil, nil},
		{"create as billing", billing, http.MethodPost, fhirBase + "/Patient", http.StatusForbidden, fhirPatient("X-1", "x@example.org"), []string{"Content-Type", "application/fhir+json"}},
		{"a path in no canonical form", clinician, http.MethodGet, fhirBase + "/Patient/a/../b", http.StatusBadRequest, nil, nil},
		{"no such resource type", clinician, http.MethodGet, fhirBase + "/Observation", http.StatusNotFound, nil, nil},
		{"an id that is no UUID", clinician, http.MethodGet, fhirBase + "/Patient/123", http.StatusNotFound, nil, nil},
		{"no such patient", clinician, http.MethodGet, fhirBase + "/Patient/" + id, http.StatusNotFound, nil, nil},
		{"XML asked for", clinician, http.MethodGet, fhirBase + "/Patient", http.StatusNotAcceptable, nil, []string{"Accept", "application/fhir+xml"}},
		{"update without If-Match", clinician, http.MethodPut, fhirBase + "/Patient/" + id, http.StatusPreconditionRequired, fhirPatient("X-2", "y@example.org"), []string{"Content-Type", "application/fhir+json"}},
		{"a bad date prefix", clinician, http.MethodGet, fhirBase + "/Patient?birthdate=sa2020", http.StatusBadRequest, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := doAs(t, c.token, c.method, c.url, c.body, c.headers...)
			require.Equal(t, c.want, r.status, "%s", r.body)
			assert.Equal(t, "application/fhir+json; charset=utf-8", r.header.Get("Content-Type"))
			var oo struct {
				ResourceType string
				Issue        []struct{ Severity, Code, Diagnostics string }
			}
			require.NoError(t, json.Unmarshal(r.body, &oo), "%s", r.body)
			assert.Equal(t, "OperationOutcome", oo.ResourceType)
			require.NotEmpty(t, oo.Issue)
			assert.Equal(t, "error", oo.Issue[0].Severity)
			assert.NotEmpty(t, strings.TrimSpace(oo.Issue[0].Diagnostics))
		})
	}
}

// tokenFor is an access token of a new user with role.
func tokenFor(t *testing.T, role string) string {
	t.Helper()
	s, status, err := login(createUser(t, role), userPassword)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	return s.AccessToken
}
