package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// importLine is one line of an import file: a FHIR Patient with MRN mrn.
func importLine(t *testing.T, mrn, birthDate string) string {
	t.Helper()
	p := fhirPatient(mrn, strings.ToLower(mrn)+"@example.org")
	p["birthDate"] = birthDate
	b, err := json.Marshal(p)
	require.NoError(t, err)
	return string(b)
}

// A file with bad lines, imported with the CLI in parts through the
// gateway: the good lines become patients with their billing accounts and
// are counted by analytics; each bad line is reported by its number in
// the file; importing the file again changes nothing.
func TestBulkImportThroughTheGateway(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	run := "IMP" + strings.ToUpper(uuid.NewString()[:6])
	mrn := func(i int) string { return fmt.Sprintf("%s-%d", run, i) }
	lines := []string{
		importLine(t, mrn(1), "1980-01-01"),
		importLine(t, mrn(2), "1981-02-02"),
		`{"resourceType":"Patient","name":`, // 3: cut short
		importLine(t, mrn(4), "1982-03-03"),
		"",                                  // 5: blank
		importLine(t, mrn(6), "2999-01-01"), // 6: born in the future
		importLine(t, mrn(7), "1983-04-04"),
		importLine(t, mrn(8), "1984-05-05"),
	}
	file := filepath.Join(t.TempDir(), "registry.ndjson")
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	before := settledSummary(t)

	pmsImport := func() string {
		cmd := exec.Command(filepath.Join(root, "bin", "pmsrun"), "import", "-gateway", gateway, "-email", sys.AdminEmail, "-part", "3", file)
		cmd.Env = append(os.Environ(), "PMS_PASSWORD="+sys.AdminPassword)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	out := pmsImport()
	assert.Contains(t, out, "7 patients (5 imported, 0 updated, 0 unchanged, 2 refused)", out)

	// Line 3 was sent in the first part, line 6 in the second: each is
	// named by its number in the file.
	errFile, err := os.Open(strings.TrimSuffix(file, ".ndjson") + ".errors.ndjson")
	require.NoError(t, err)
	defer errFile.Close()
	refused := map[int]string{}
	sc := bufio.NewScanner(errFile)
	for sc.Scan() {
		var oo struct {
			ResourceType string
			Extension    []struct{ ValueInteger int }
			Issue        []struct {
				Diagnostics string
				Expression  []string
			}
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &oo))
		require.Equal(t, "OperationOutcome", oo.ResourceType)
		require.Len(t, oo.Extension, 1)
		require.NotEmpty(t, oo.Issue)
		refused[oo.Extension[0].ValueInteger] = oo.Issue[0].Diagnostics + " " + strings.Join(oo.Issue[0].Expression, ",")
	}
	require.Len(t, refused, 2, "lines 3 and 6: %v", refused)
	assert.Contains(t, refused[3], "line 3: ")
	assert.Contains(t, refused[6], "line 6: ")
	assert.Contains(t, refused[6], "Patient.birthDate")

	for _, i := range []int{1, 2, 4, 7, 8} {
		r := doAs(t, adminToken, http.MethodGet, fhirBase+"/Patient?identifier="+mrnSystem+"|"+mrn(i), nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var b struct {
			Entry []struct{ Resource struct{ ID string } }
		}
		require.NoError(t, json.Unmarshal(r.body, &b))
		require.Len(t, b.Entry, 1, "patient %s", mrn(i))
		p := decodeAs[patient](t, do(t, http.MethodGet, gateway+"/patients/"+b.Entry[0].Resource.ID, nil))
		assert.NotEmpty(t, p.BillingAccountID, "patient %s has its billing account", mrn(i))
		assert.Equal(t, int64(1), p.Version)
	}
	require.Eventually(t, func() bool {
		return analyticsSummary(t).TotalPatientsCreated == before.TotalPatientsCreated+5
	}, 30*time.Second, 200*time.Millisecond, "analytics counts the five")

	again := pmsImport()
	assert.Contains(t, again, "7 patients (0 imported, 0 updated, 5 unchanged, 2 refused)", again)
	after := settledSummary(t)
	assert.Equal(t, before.TotalPatientsCreated+5, after.TotalPatientsCreated)
	assert.Equal(t, before.TotalUpdates, after.TotalUpdates, "a second import publishes nothing")
}

// Parts run side by side, but a part naming a patient that a part still
// running names waits for it: a file whose last line changes the patient
// its first line creates ends as its last line says, however the parts
// would have raced.
func TestBulkImportPartsKeepTheFilesOrder(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	run := "ORD" + strings.ToUpper(uuid.NewString()[:6])
	lines := []string{
		importLine(t, run+"-1", "1970-01-01"),
		importLine(t, run+"-2", "1971-01-01"),
		importLine(t, run+"-3", "1972-01-01"),
		importLine(t, run+"-1", "1979-09-09"), // the first line's patient, changed
	}
	file := filepath.Join(t.TempDir(), "ordered.ndjson")
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	cmd := exec.Command(filepath.Join(root, "bin", "pmsrun"), "import", "-gateway", gateway, "-email", sys.AdminEmail,
		"-part", "1", "-parallel", "4", file)
	cmd.Env = append(os.Environ(), "PMS_PASSWORD="+sys.AdminPassword)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "4 patients (3 imported, 1 updated, 0 unchanged, 0 refused)", "%s", out)

	r := doAs(t, adminToken, http.MethodGet, fhirBase+"/Patient?identifier="+mrnSystem+"|"+run+"-1", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var b struct {
		Entry []struct{ Resource struct{ ID string } }
	}
	require.NoError(t, json.Unmarshal(r.body, &b))
	require.Len(t, b.Entry, 1)
	p := decodeAs[patient](t, do(t, http.MethodGet, gateway+"/patients/"+b.Entry[0].Resource.ID, nil))
	assert.Equal(t, "1979-09-09", p.DateOfBirth, "the file's last word on the patient")
	assert.Equal(t, int64(2), p.Version)
}

// The import's own API: who may, what it takes, and its answers.
func TestBulkImportAPI(t *testing.T) {
	ndjson := []string{"Content-Type", "application/fhir+ndjson"}
	body := importLine(t, "IMPAPI-"+uuid.NewString()[:8], "1970-01-01") + "\n{}\n"

	clinician := tokenFor(t, "clinician")
	r := doAs(t, clinician, http.MethodPost, fhirBase+"/$import", body, ndjson...)
	assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	r = doAs(t, adminToken, http.MethodPost, fhirBase+"/$import", body, "Content-Type", "application/fhir+json")
	assert.Equal(t, http.StatusUnsupportedMediaType, r.status, "%s", r.body)
	r = doAs(t, adminToken, http.MethodGet, fhirBase+"/$import-status/"+uuid.NewString(), nil)
	assert.Equal(t, http.StatusNotFound, r.status, "%s", r.body)

	// A body streamed without its length is refused before anything is
	// forwarded.
	req, err := http.NewRequest(http.MethodPost, fhirBase+"/$import", io.MultiReader(strings.NewReader(body)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/fhir+ndjson")
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusLengthRequired, resp.StatusCode)

	r = doAs(t, adminToken, http.MethodPost, fhirBase+"/$import", body, append(ndjson, "Prefer", "respond-async")...)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	status := r.header.Get("Content-Location")
	require.True(t, strings.HasPrefix(status, "http://localhost:4004/fhir/R4/$import-status/") ||
		strings.HasPrefix(status, "http://127.0.0.1:4004/fhir/R4/$import-status/"), status)
	status = fhirBase + status[strings.Index(status, "/$import-status/"):]

	var m struct {
		Request   string
		Output    []struct{ Count int }
		Error     []struct{ URL string }
		Extension struct{ Lines, Imported, Rejected int }
	}
	require.Eventually(t, func() bool {
		r = doAs(t, adminToken, http.MethodGet, status, nil)
		if r.status == http.StatusAccepted {
			assert.NotEmpty(t, r.header.Get("X-Progress"))
			return false
		}
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.NoError(t, json.Unmarshal(r.body, &m))
		return true
	}, 30*time.Second, 100*time.Millisecond)
	assert.Equal(t, 2, m.Extension.Lines)
	assert.Equal(t, 1, m.Extension.Imported)
	assert.Equal(t, 1, m.Extension.Rejected)
	require.Len(t, m.Error, 1)
	errs := doAs(t, adminToken, http.MethodGet, fhirBase+m.Error[0].URL[strings.Index(m.Error[0].URL, "/$import-status/"):], nil)
	require.Equal(t, http.StatusOK, errs.status)
	assert.Equal(t, "application/fhir+ndjson", errs.header.Get("Content-Type"))
	assert.Contains(t, string(errs.body), `"diagnostics":"line 2: `)

	r = doAs(t, clinician, http.MethodGet, status, nil)
	assert.Equal(t, http.StatusForbidden, r.status, "only admins read an import's status")
}
