package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/tests/internal/wait"
)

// Patient lifecycle: conditional writes, idempotent creates, search and
// paging, soft delete, the audit trail.

func TestConcurrentEditsWithOneETagLetExactlyOneWin(t *testing.T) {
	created, r := createPatient(t, newPatient("Concurrent Edit"))
	etag := r.header.Get("ETag")
	require.Equal(t, `"1"`, etag)
	path := gateway + "/patients/" + created.ID

	body := newPatient("Concurrent Edit")
	body["email"] = created.Email
	assert.Equal(t, http.StatusPreconditionRequired, do(t, http.MethodPut, path, body).status, "no If-Match")

	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := map[string]string{"name": fmt.Sprintf("Editor %d", i), "email": created.Email, "address": "2 New Road", "dateOfBirth": "1980-02-29"}
			statuses[i] = doAs(t, adminToken, http.MethodPut, path, b, "If-Match", etag).status
		}()
	}
	wg.Wait()
	assert.ElementsMatch(t, []int{http.StatusOK, http.StatusPreconditionFailed}, statuses)

	cur := do(t, http.MethodGet, path, nil)
	require.Equal(t, `"2"`, cur.header.Get("ETag"))
	patch := doAs(t, adminToken, http.MethodPatch, path, `{"phone":"+44 20 7946 0000","gender":"female"}`,
		"If-Match", cur.header.Get("ETag"), "Content-Type", "application/merge-patch+json")
	require.Equal(t, http.StatusOK, patch.status, "%s", patch.body)
	p := decodeAs[patient](t, patch)
	assert.EqualValues(t, 3, p.Version)
	assert.Equal(t, "female", p.Gender)
	assert.Equal(t, "2 New Road", p.Address, "untouched fields stay")
	assert.Equal(t, created.MRN, p.MRN)

	stale := doAs(t, adminToken, http.MethodPatch, path, `{"phone":"+1 555 0100"}`, "If-Match", `"2"`, "Content-Type", "application/merge-patch+json")
	assert.Equal(t, http.StatusPreconditionFailed, stale.status)
	owned := doAs(t, adminToken, http.MethodPatch, path, `{"billingAccountId":"mine","version":99}`, "If-Match", `"3"`, "Content-Type", "application/merge-patch+json")
	assert.Equal(t, http.StatusBadRequest, owned.status, "server-owned fields are never written")
	assert.Equal(t, p.BillingAccountID, decodeAs[patient](t, do(t, http.MethodGet, path, nil)).BillingAccountID)
}

func TestRetriedCreateWithOneIdempotencyKeyMakesOnePatient(t *testing.T) {
	body := newPatient("Idem Potent")
	key := fmt.Sprintf("create-%d", time.Now().UnixNano())
	first := doAs(t, adminToken, http.MethodPost, gateway+"/patients", body, "Idempotency-Key", key)
	require.Equal(t, http.StatusCreated, first.status, "%s", first.body)
	again := doAs(t, adminToken, http.MethodPost, gateway+"/patients", body, "Idempotency-Key", key)
	require.Equal(t, http.StatusCreated, again.status, "%s", again.body)
	assert.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	assert.Equal(t, decodeAs[patient](t, first).ID, decodeAs[patient](t, again).ID)
	assert.Equal(t, first.header.Get("Location"), again.header.Get("Location"))

	found := decodeAs[struct{ Items []patient }](t, do(t, http.MethodGet, gateway+"/patients?email="+url.QueryEscape(body["email"]), nil))
	assert.Len(t, found.Items, 1, "one patient, not two")

	other := newPatient("Someone Else")
	misuse := doAs(t, adminToken, http.MethodPost, gateway+"/patients", other, "Idempotency-Key", key)
	assert.Equal(t, http.StatusUnprocessableEntity, misuse.status, "the key belongs to another request")
}

func TestSearchPagesOver250PatientsReturnEachOnce(t *testing.T) {
	prefix := fmt.Sprintf("Pager%d", time.Now().UnixNano()%1_000_000_000)
	want := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				b := newPatient(fmt.Sprintf("%s Person%03d", prefix, i))
				r := doAs(t, adminToken, http.MethodPost, gateway+"/patients", b)
				if !assert.Equal(t, http.StatusCreated, r.status, "%s", r.body) {
					continue
				}
				mu.Lock()
				want[decodeAs[patient](t, r).ID] = true
				mu.Unlock()
			}
		}()
	}
	for i := range 250 {
		work <- i
	}
	close(work)
	wg.Wait()
	require.Len(t, want, 250)

	seen := map[string]int{}
	next := "/patients?limit=100&name=" + url.QueryEscape(strings.ToLower(prefix))
	pages := 0
	for next != "" {
		r := do(t, http.MethodGet, gateway+next, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		page := decodeAs[struct {
			Items []patient
			Next  string
		}](t, r)
		for _, p := range page.Items {
			seen[p.ID]++
		}
		next = page.Next
		pages++
		require.Less(t, pages, 10, "paging must end")
	}
	assert.Equal(t, 3, pages, "100 + 100 + 50")
	assert.Len(t, seen, 250)
	for id, n := range seen {
		assert.Equal(t, 1, n, "patient %s appeared %d times", id, n)
		assert.True(t, want[id], "patient %s is not one of ours", id)
	}

	var one patient
	for _, p := range decodeAs[struct{ Items []patient }](t, do(t, http.MethodGet, gateway+"/patients?limit=1&q="+url.QueryEscape(prefix), nil)).Items {
		one = p
	}
	require.NotEmpty(t, one.ID)
	for _, query := range []string{"mrn=" + url.QueryEscape(strings.ToLower(one.MRN)), "email=" + url.QueryEscape(strings.ToUpper(one.Email)), "q=" + url.QueryEscape(one.MRN)} {
		got := decodeAs[struct{ Items []patient }](t, do(t, http.MethodGet, gateway+"/patients?"+query, nil))
		require.Len(t, got.Items, 1, query)
		assert.Equal(t, one.ID, got.Items[0].ID, query)
	}
	byBirth := decodeAs[struct{ Items []patient }](t, do(t, http.MethodGet, gateway+"/patients?limit=100&birthDate=1980-02-29&name="+url.QueryEscape(prefix), nil))
	assert.Len(t, byBirth.Items, 100)
	assert.Equal(t, http.StatusBadRequest, do(t, http.MethodGet, gateway+"/patients?cursor=bogus", nil).status)
}

func TestDeletedPatientIsGoneListedForAdminsAndCounted(t *testing.T) {
	before := settledSummary(t)
	created, r := createPatient(t, newPatient("To Be Deleted"))
	path := gateway + "/patients/" + created.ID
	assert.Equal(t, http.StatusPreconditionRequired, do(t, http.MethodDelete, path, nil).status)
	assert.Equal(t, http.StatusPreconditionFailed, doAs(t, adminToken, http.MethodDelete, path, nil, "If-Match", `"7"`).status)
	del := doAs(t, adminToken, http.MethodDelete, path, nil, "If-Match", r.header.Get("ETag"))
	require.Equal(t, http.StatusNoContent, del.status, "%s", del.body)

	assert.Equal(t, http.StatusGone, do(t, http.MethodGet, path, nil).status)
	assert.Equal(t, http.StatusGone, doAs(t, adminToken, http.MethodPut, path, newPatient("x"), "If-Match", `"2"`).status)
	live := decodeAs[struct{ Items []patient }](t, do(t, http.MethodGet, gateway+"/patients?email="+url.QueryEscape(created.Email), nil))
	assert.Empty(t, live.Items, "deleted patients drop out of lists")
	deleted := decodeAs[struct{ Items []patient }](t, do(t, http.MethodGet, gateway+"/patients?deleted=true&email="+url.QueryEscape(created.Email), nil))
	require.Len(t, deleted.Items, 1, "admins can list deleted records")
	assert.NotEmpty(t, deleted.Items[0].DeletedAt)

	clin, status, err := login(createUser(t, "clinician"), userPassword)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, http.StatusForbidden, doAs(t, clin.AccessToken, http.MethodGet, gateway+"/patients?deleted=true", nil).status)

	wait.Until(t, 15*time.Second, "analytics counts the deletion", func() error {
		now := analyticsSummary(t)
		if now.TotalPatientsDeleted != before.TotalPatientsDeleted+1 {
			return fmt.Errorf("totalPatientsDeleted = %d, want %d", now.TotalPatientsDeleted, before.TotalPatientsDeleted+1)
		}
		if now.CurrentPatients != now.TotalPatientsCreated-now.TotalPatientsDeleted {
			return fmt.Errorf("currentPatients %d is not created - deleted", now.CurrentPatients)
		}
		return nil
	})
	assert.Greater(t, analyticsSummary(t).TotalUpdates, before.TotalUpdates-1)
}

func TestAuditTrailRecordsReadsSearchesAndWritesByWho(t *testing.T) {
	email := createUser(t, "clinician")
	clin, status, err := login(email, userPassword)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	clinID := tokenSubject(t, clin.AccessToken)

	r := doAs(t, clin.AccessToken, http.MethodPost, gateway+"/patients", newPatient("Audited Person"))
	require.Equal(t, http.StatusCreated, r.status)
	p := decodeAs[patient](t, r)
	read := doAs(t, clin.AccessToken, http.MethodGet, gateway+"/patients/"+p.ID, nil, "X-Request-Id", "audit-read-"+p.ID[:8])
	require.Equal(t, http.StatusOK, read.status)
	assert.Equal(t, "audit-read-"+p.ID[:8], read.header.Get("X-Client-Request-Id"), "the client's id is kept beside the gateway's")
	require.Equal(t, http.StatusOK, doAs(t, clin.AccessToken, http.MethodGet, gateway+"/patients?email="+url.QueryEscape(p.Email), nil).status)
	up := doAs(t, clin.AccessToken, http.MethodPatch, gateway+"/patients/"+p.ID, `{"phone":"+1 555 0101"}`,
		"If-Match", `"1"`, "Content-Type", "application/merge-patch+json")
	require.Equal(t, http.StatusOK, up.status, "%s", up.body)

	assert.Equal(t, http.StatusForbidden, doAs(t, clin.AccessToken, http.MethodGet, gateway+"/patients/"+p.ID+"/audit", nil).status)
	trail := do(t, http.MethodGet, gateway+"/patients/"+p.ID+"/audit", nil)
	require.Equal(t, http.StatusOK, trail.status, "%s", trail.body)
	entries := decodeAs[struct {
		Items []struct {
			UserID, Role, Action, RequestID, Outcome string
			PatientIDs                               []string
		}
	}](t, trail).Items
	byAction := map[string]string{}
	for _, e := range entries {
		assert.Contains(t, e.PatientIDs, p.ID)
		if e.UserID == clinID {
			byAction[e.Action] = e.Outcome
			assert.Equal(t, "clinician", e.Role)
		}
		if e.Action == "read" {
			assert.Equal(t, read.header.Get("X-Request-Id"), e.RequestID,
				"the gateway's request id ties the entry to the request, not the one the client chose")
			assert.NotEqual(t, "audit-read-"+p.ID[:8], e.RequestID)
		}
	}
	assert.Equal(t, map[string]string{"create": "success", "read": "success", "search": "success", "patch": "success"}, byAction)
}

func TestUniqueMRNConflictNamesTheField(t *testing.T) {
	first, _ := createPatient(t, newPatient("Mrn Holder"))
	body := newPatient("Mrn Thief")
	body["mrn"] = strings.ToLower(first.MRN)
	r := do(t, http.MethodPost, gateway+"/patients", body)
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	p := decodeAs[problemDoc](t, r)
	require.Len(t, p.Errors, 1)
	assert.Equal(t, "mrn", p.Errors[0].Field)
}
