package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pms-dapr/pms/tests/internal/wait"
)

type billingAccount struct {
	ID           string `json:"id"`
	PatientID    string `json:"patientId"`
	Status       string `json:"status"`
	Currency     string `json:"currency"`
	BalanceMinor int64  `json:"balanceMinor"`
	EntryCount   int64  `json:"entryCount"`
	Version      int64  `json:"version"`
}

type ledgerEntry struct {
	ID                string `json:"id"`
	Sequence          int64  `json:"sequence"`
	Kind              string `json:"kind"`
	AmountMinor       int64  `json:"amountMinor"`
	BalanceAfterMinor int64  `json:"balanceAfterMinor"`
	Reverses          string `json:"reverses"`
	ReversedBy        string `json:"reversedBy"`
}

type posted struct {
	Entry   ledgerEntry    `json:"entry"`
	Account billingAccount `json:"account"`
}

func accountURL(id string, rest ...string) string {
	return gateway + "/billing/accounts/" + id + strings.Join(rest, "")
}

// accountOf is the billing account of a newly registered patient, found as
// a clerk would: by patient.
func accountOf(t *testing.T, token, patientID string) billingAccount {
	t.Helper()
	r := doAs(t, token, http.MethodGet, gateway+"/billing/accounts?patientId="+patientID, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	list := decodeAs[struct {
		Items []billingAccount `json:"items"`
	}](t, r)
	require.Len(t, list.Items, 1)
	return list.Items[0]
}

func charge(quantity, unit int64) map[string]any {
	return map[string]any{"serviceDate": time.Now().UTC().Format(time.DateOnly), "code": "99213",
		"description": "Office visit", "quantity": quantity, "unitPriceMinor": unit}
}

func payment(amount int64) map[string]any {
	return map[string]any{"amountMinor": amount, "method": "CARD", "reference": "AUTH-" + uuid.NewString()[:8]}
}

func post(t *testing.T, token, accountID, kind string, body any, key string) response {
	t.Helper()
	return doAs(t, token, http.MethodPost, accountURL(accountID, "/", kind), body, "Idempotency-Key", key)
}

func readAccount(t *testing.T, token, id string) billingAccount {
	t.Helper()
	r := doAs(t, token, http.MethodGet, accountURL(id), nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	return decodeAs[billingAccount](t, r)
}

// A registered patient has an active account; charges, payments, an
// adjustment and a reversal posted through the gateway leave an exact
// balance and statement; a retried posting is one entry; a held account
// refuses charges naming its status.
func TestBillingLedgerThroughTheGateway(t *testing.T) {
	clerk := tokenFor(t, "billing")
	p, _ := createPatient(t, newPatient("Ledger Patient"))
	acct := accountOf(t, clerk, p.ID)
	assert.Equal(t, p.BillingAccountID, acct.ID)
	assert.Equal(t, "ACTIVE", acct.Status)
	assert.Equal(t, "USD", acct.Currency)
	assert.Zero(t, acct.BalanceMinor)

	r := post(t, clerk, acct.ID, "charges", charge(3, 4_999), "c-1")
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	first := decodeAs[posted](t, r)
	assert.Equal(t, int64(14_997), first.Entry.AmountMinor)
	assert.Equal(t, accountURL(acct.ID, "/entries/", first.Entry.ID)[len(gateway):], r.header.Get("Location"))

	retry := post(t, clerk, acct.ID, "charges", charge(3, 4_999), "c-1")
	require.Equal(t, http.StatusCreated, retry.status, "%s", retry.body)
	assert.Equal(t, "true", retry.header.Get("Idempotent-Replayed"))
	assert.Equal(t, first.Entry.ID, decodeAs[posted](t, retry).Entry.ID, "a retry is the same entry")
	reused := post(t, clerk, acct.ID, "charges", charge(4, 4_999), "c-1")
	assert.Equal(t, http.StatusUnprocessableEntity, reused.status, "%s", reused.body)

	require.Equal(t, http.StatusCreated, post(t, clerk, acct.ID, "charges", charge(1, 20_000), "c-2").status)
	require.Equal(t, http.StatusCreated, post(t, clerk, acct.ID, "payments", payment(10_000), "p-1").status)
	require.Equal(t, http.StatusCreated, post(t, clerk, acct.ID, "adjustments",
		map[string]any{"type": "WRITE_OFF", "amountMinor": 997, "reason": "prompt-pay discount"}, "a-1").status)
	rev := post(t, clerk, acct.ID, "reversals", map[string]any{"entryId": first.Entry.ID, "reason": "posted to the wrong visit"}, "r-1")
	require.Equal(t, http.StatusCreated, rev.status, "%s", rev.body)
	assert.Equal(t, int64(-14_997), decodeAs[posted](t, rev).Entry.AmountMinor)
	again := post(t, clerk, acct.ID, "reversals", map[string]any{"entryId": first.Entry.ID, "reason": "twice"}, "r-2")
	assert.Equal(t, http.StatusConflict, again.status, "an entry is reversed once: %s", again.body)

	got := readAccount(t, clerk, acct.ID)
	assert.Equal(t, int64(14_997+20_000-10_000-997-14_997), got.BalanceMinor)
	assert.Equal(t, int64(5), got.EntryCount)

	today := time.Now().UTC().Format(time.DateOnly)
	st := doAs(t, clerk, http.MethodGet, accountURL(acct.ID, "/statement?from="+today+"&to="+today), nil)
	require.Equal(t, http.StatusOK, st.status, "%s", st.body)
	statement := decodeAs[struct {
		Opening     int64         `json:"openingBalanceMinor"`
		Closing     int64         `json:"closingBalanceMinor"`
		Charges     int64         `json:"totalChargesMinor"`
		Payments    int64         `json:"totalPaymentsMinor"`
		Adjustments int64         `json:"totalAdjustmentsMinor"`
		Entries     []ledgerEntry `json:"entries"`
	}](t, st)
	assert.Zero(t, statement.Opening)
	assert.Equal(t, got.BalanceMinor, statement.Closing)
	assert.Equal(t, int64(34_997), statement.Charges)
	assert.Equal(t, int64(-10_000), statement.Payments)
	assert.Equal(t, int64(-997-14_997), statement.Adjustments)
	require.Len(t, statement.Entries, 5)
	assert.Equal(t, []string{"CHARGE", "CHARGE", "PAYMENT", "ADJUSTMENT", "REVERSAL"},
		[]string{statement.Entries[0].Kind, statement.Entries[1].Kind, statement.Entries[2].Kind, statement.Entries[3].Kind, statement.Entries[4].Kind})
	assert.Equal(t, statement.Entries[4].ID, statement.Entries[0].ReversedBy)

	// Paging through the ledger: newest first, every entry once.
	page := doAs(t, clerk, http.MethodGet, accountURL(acct.ID, "/entries?limit=3"), nil)
	require.Equal(t, http.StatusOK, page.status, "%s", page.body)
	p1 := decodeAs[struct {
		Items []ledgerEntry `json:"items"`
		Next  string        `json:"next"`
	}](t, page)
	require.Len(t, p1.Items, 3)
	require.NotEmpty(t, p1.Next)
	p2 := decodeAs[struct {
		Items []ledgerEntry `json:"items"`
		Next  string        `json:"next"`
	}](t, doAs(t, clerk, http.MethodGet, gateway+p1.Next, nil))
	assert.Empty(t, p2.Next)
	require.Len(t, p2.Items, 2)
	assert.Equal(t, []int64{5, 4, 3, 2, 1}, []int64{p1.Items[0].Sequence, p1.Items[1].Sequence, p1.Items[2].Sequence, p2.Items[0].Sequence, p2.Items[1].Sequence})

	// Hold: If-Match is required and must be current; a held account
	// refuses charges and names its status.
	assert.Equal(t, http.StatusPreconditionRequired, doAs(t, clerk, http.MethodPost, accountURL(acct.ID, "/hold"), nil).status)
	stale := doAs(t, clerk, http.MethodPost, accountURL(acct.ID, "/hold"), nil, "If-Match", `"1"`)
	assert.Equal(t, http.StatusPreconditionFailed, stale.status, "%s", stale.body)
	held := doAs(t, clerk, http.MethodPost, accountURL(acct.ID, "/hold"), nil, "If-Match", fmt.Sprintf(`"%d"`, got.Version))
	require.Equal(t, http.StatusOK, held.status, "%s", held.body)
	assert.Equal(t, "ON_HOLD", decodeAs[billingAccount](t, held).Status)
	refused := post(t, clerk, acct.ID, "charges", charge(1, 100), "c-held")
	require.Equal(t, http.StatusConflict, refused.status, "%s", refused.body)
	prob := decodeAs[problemDoc](t, refused)
	assert.Contains(t, prob.Detail, "ON_HOLD")
	require.Len(t, prob.Errors, 1)
	assert.Equal(t, "status", prob.Errors[0].Field)
	assert.Equal(t, http.StatusCreated, post(t, clerk, acct.ID, "payments", payment(1_000), "p-held").status, "a held account takes payments")
	released := doAs(t, clerk, http.MethodPost, accountURL(acct.ID, "/release"), nil, "If-Match", held.header.Get("ETag"))
	assert.Equal(t, http.StatusPreconditionFailed, released.status, "the payment changed the account: %s", released.body)
	cur := readAccount(t, clerk, acct.ID)
	released = doAs(t, clerk, http.MethodPost, accountURL(acct.ID, "/release"), nil, "If-Match", fmt.Sprintf(`"%d"`, cur.Version))
	require.Equal(t, http.StatusOK, released.status, "%s", released.body)
	assert.Equal(t, http.StatusCreated, post(t, clerk, acct.ID, "charges", charge(1, 100), "c-held").status,
		"the refused charge's key is still unused")

	bad := post(t, clerk, acct.ID, "charges", map[string]any{"serviceDate": "2999-01-01", "code": "no spaces", "description": "",
		"quantity": 0, "unitPriceMinor": 100}, "c-bad")
	require.Equal(t, http.StatusBadRequest, bad.status, "%s", bad.body)
	var fields []string
	for _, e := range decodeAs[problemDoc](t, bad).Errors {
		fields = append(fields, e.Field)
	}
	assert.Equal(t, []string{"serviceDate", "code", "description", "quantity"}, fields)
	fraction := post(t, clerk, acct.ID, "payments", `{"amountMinor": 10.5, "method": "CASH"}`, "p-frac")
	assert.Equal(t, http.StatusBadRequest, fraction.status, "a fraction of a minor unit is refused: %s", fraction.body)
}

// 50 clerks posting to one account at once: every posting is recorded once
// and the balance is their exact sum.
func TestConcurrentPostingsToOneAccount(t *testing.T) {
	clerk := tokenFor(t, "billing")
	p, _ := createPatient(t, newPatient("Busy Account"))
	acct := accountOf(t, clerk, p.ID)
	const n = 50
	var wg sync.WaitGroup
	statuses := make([]int, n)
	var want int64
	for i := range n {
		amount := int64(1_000 + i)
		if i%3 == 0 {
			want -= amount
		} else {
			want += amount
		}
		wg.Go(func() {
			var r response
			if i%3 == 0 {
				r = post(t, clerk, acct.ID, "payments", payment(amount), fmt.Sprintf("pay-%d", i))
			} else {
				r = post(t, clerk, acct.ID, "charges", charge(1, amount), fmt.Sprintf("chg-%d", i))
			}
			statuses[i] = r.status
		})
	}
	wg.Wait()
	for i, s := range statuses {
		assert.Equal(t, http.StatusCreated, s, "posting %d", i)
	}
	got := readAccount(t, clerk, acct.ID)
	assert.Equal(t, int64(n), got.EntryCount)
	assert.Equal(t, want, got.BalanceMinor)

	seen := map[int64]bool{}
	next := "/billing/accounts/" + acct.ID + "/entries?limit=100"
	var sum int64
	for next != "" {
		page := decodeAs[struct {
			Items []ledgerEntry `json:"items"`
			Next  string        `json:"next"`
		}](t, doAs(t, clerk, http.MethodGet, gateway+next, nil))
		for _, e := range page.Items {
			assert.False(t, seen[e.Sequence], "sequence %d twice", e.Sequence)
			seen[e.Sequence] = true
			sum += e.AmountMinor
		}
		next = page.Next
	}
	assert.Len(t, seen, n)
	assert.Equal(t, want, sum)
}

// Deleting a patient closes the account once, even when the deletion event
// is delivered again; a closed account refuses charges and takes payments.
func TestDeletedPatientsAccountClosesOnce(t *testing.T) {
	clerk := tokenFor(t, "billing")
	p, _ := createPatient(t, newPatient("Leaving Patient"))
	acct := accountOf(t, clerk, p.ID)
	require.Equal(t, http.StatusCreated, post(t, clerk, acct.ID, "charges", charge(1, 5_000), "c").status)
	r := do(t, http.MethodDelete, gateway+"/patients/"+p.ID, nil)
	require.Equal(t, http.StatusPreconditionRequired, r.status)
	r = doAs(t, adminToken, http.MethodDelete, gateway+"/patients/"+p.ID, nil, "If-Match", fmt.Sprintf(`"%d"`, p.Version))
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)

	var closed billingAccount
	wait.Until(t, 20*time.Second, "the account is closed", func() error {
		closed = readAccount(t, clerk, acct.ID)
		if closed.Status != "CLOSED" {
			return fmt.Errorf("status %s", closed.Status)
		}
		return nil
	})

	// The same deletion event again, as the broker would redeliver it.
	var deletion *kgo.Record
	for _, rec := range topicRecords(t, "patient") {
		if strings.Contains(string(rec.Value), p.ID) && strings.Contains(string(rec.Value), "PATIENT_DELETED") {
			deletion = rec
		}
	}
	require.NotNil(t, deletion, "the deletion is on the topic")
	var ce struct {
		Data json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(deletion.Value, &ce))
	var event struct {
		EventID string `json:"eventId"`
	}
	require.NoError(t, json.Unmarshal(ce.Data, &event))
	require.NoError(t, publishVia(t, "patient-service", "patient", ce.Data))

	// Redelivered and handled: billing-service logs it as a duplicate.
	root, err := repoRoot()
	require.NoError(t, err)
	wait.Until(t, 20*time.Second, "billing-service handled the redelivery", func() error {
		logs, err := os.ReadFile(filepath.Join(root, ".data", "e2e-console.log"))
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(logs), "\n") {
			if strings.HasPrefix(line, "[billing-service]") && strings.Contains(line, "duplicate event ignored") &&
				strings.Contains(line, event.EventID) {
				return nil
			}
		}
		return fmt.Errorf("no duplicate of %s logged yet", event.EventID)
	})
	after := readAccount(t, clerk, acct.ID)
	assert.Equal(t, closed.Version, after.Version, "closed once: the redelivery changed nothing")
	trail := decodeAs[struct {
		Items []struct {
			Action string `json:"action"`
			Role   string `json:"role"`
		} `json:"items"`
	}](t, do(t, http.MethodGet, accountURL(acct.ID, "/audit?limit=100"), nil))
	closes := 0
	for _, e := range trail.Items {
		if e.Action == "account.close" {
			closes++
			assert.Equal(t, "system", e.Role)
		}
	}
	assert.Equal(t, 1, closes)

	refused := post(t, clerk, acct.ID, "charges", charge(1, 100), "c-closed")
	require.Equal(t, http.StatusConflict, refused.status, "%s", refused.body)
	assert.Contains(t, decodeAs[problemDoc](t, refused).Detail, "CLOSED")
	assert.Equal(t, http.StatusCreated, post(t, clerk, acct.ID, "payments", payment(5_000), "p-closed").status)
	assert.Zero(t, readAccount(t, clerk, acct.ID).BalanceMinor)
}

// The role table: clinicians find accounts and post charges but not
// payments or ledgers; billing staff do everything on accounts but may not
// delete patients; only admins read the audit trail.
func TestBillingRoles(t *testing.T) {
	clinician, clerk := tokenFor(t, "clinician"), tokenFor(t, "billing")
	p, _ := createPatient(t, newPatient("Role Table"))
	acct := accountOf(t, clinician, p.ID)
	assert.Equal(t, http.StatusCreated, post(t, clinician, acct.ID, "charges", charge(1, 100), "c").status)
	assert.Equal(t, http.StatusForbidden, post(t, clinician, acct.ID, "payments", payment(100), "p").status)
	assert.Equal(t, http.StatusForbidden, doAs(t, clinician, http.MethodGet, accountURL(acct.ID, "/entries"), nil).status)
	assert.Equal(t, http.StatusForbidden, doAs(t, clinician, http.MethodPost, accountURL(acct.ID, "/hold"), nil, "If-Match", `"2"`).status)
	assert.Equal(t, http.StatusCreated, post(t, clerk, acct.ID, "payments", payment(100), "p").status)
	assert.Equal(t, http.StatusOK, doAs(t, clerk, http.MethodGet, accountURL(acct.ID, "/entries"), nil).status)
	assert.Equal(t, http.StatusForbidden, doAs(t, clerk, http.MethodGet, accountURL(acct.ID, "/audit"), nil).status)
	assert.Equal(t, http.StatusForbidden, doAs(t, clerk, http.MethodDelete, gateway+"/patients/"+p.ID, nil, "If-Match", `"1"`).status)
	assert.Equal(t, http.StatusUnauthorized, doAs(t, "", http.MethodGet, accountURL(acct.ID), nil).status)

	r := do(t, http.MethodGet, accountURL(acct.ID, "/audit"), nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var actions []string
	for _, e := range decodeAs[struct {
		Items []struct {
			Action  string `json:"action"`
			Role    string `json:"role"`
			Outcome string `json:"outcome"`
		} `json:"items"`
	}](t, r).Items {
		actions = append(actions, e.Action+":"+e.Role+":"+e.Outcome)
	}
	assert.Subset(t, actions, []string{"charge:clinician:success", "payment:billing:success", "entries.read:billing:success",
		"account.list:clinician:success", "account.open:service:success"})
	// Refusals at the gateway never reach billing-service; billing-service
	// checks the role itself too, and audits what it refused.
	assert.NotContains(t, actions, "payment:clinician:forbidden", "the gateway refused it first")
}

// The runtime role billing-service connects as may not change or remove a
// ledger entry.
func TestLedgerRowsCannotBeChangedByTheRuntimeRole(t *testing.T) {
	clerk := tokenFor(t, "billing")
	p, _ := createPatient(t, newPatient("Fixed Ledger"))
	acct := accountOf(t, clerk, p.ID)
	require.Equal(t, http.StatusCreated, post(t, clerk, acct.ID, "charges", charge(1, 100), "c").status)

	u, err := url.Parse(sys.PostgresURL)
	require.NoError(t, err)
	u.Path = "/billing"
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u.String())
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "SET ROLE billing_app")
	require.NoError(t, err)
	for _, sql := range []string{
		"UPDATE ledger_entries SET amount_minor = 1 WHERE account_id = $1",
		"DELETE FROM ledger_entries WHERE account_id = $1",
		"UPDATE billing_audit SET outcome = 'success' WHERE $1 = ANY(account_ids)",
		"DELETE FROM billing_audit WHERE $1 = ANY(account_ids)",
	} {
		_, err := conn.Exec(ctx, sql, acct.ID)
		assert.ErrorContains(t, err, "permission denied", sql)
	}
	assert.Equal(t, int64(100), readAccount(t, clerk, acct.ID).BalanceMinor)
}

// Refusals are answers, not failures: a burst of bad postings (each a gRPC
// error from billing-service) does not trip a circuit breaker that would
// cut billing off for everyone (components/resiliency-gateway.yaml).
func TestRefusedPostingsDoNotCutBillingOff(t *testing.T) {
	clerk := tokenFor(t, "billing")
	p, _ := createPatient(t, newPatient("Bad Input Burst"))
	acct := accountOf(t, clerk, p.ID)
	for i := range 12 {
		r := post(t, clerk, acct.ID, "charges", charge(0, 100), fmt.Sprintf("bad-%d", i))
		require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	}
	r := post(t, clerk, acct.ID, "charges", charge(1, 100), "good")
	assert.Equal(t, http.StatusCreated, r.status, "%s", r.body)
}
