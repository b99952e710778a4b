package billingdb_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/billing-service/internal/billing"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billing/billingtest"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billingdb"
	"github.com/pms-dapr/pms/apps/billing-service/internal/billingevents"
	"github.com/pms-dapr/pms/platform/outbox"
	"github.com/pms-dapr/pms/platform/pgtest"
)

var template = pgtest.NewTemplate("billing", billingdb.Migrations())

// The same contract as the in-memory store's, on PostgreSQL, as the
// service's runtime role.
func TestPostgresStoreMeetsTheStoreContract(t *testing.T) {
	billingtest.StoreContract(t, func(t *testing.T) billing.Store { return billingdb.New(template.Pool(t)) })
}

// The ledger and the audit trail are append-only: the runtime role may not
// change or remove an entry, and not even the owner may.
func TestLedgerAndAuditAreAppendOnly(t *testing.T) {
	clone := template.Clone(t)
	ctx := context.Background()
	svc, err := billing.NewService(billingdb.New(clone.Pool), "USD")
	require.NoError(t, err)
	acc, _, err := svc.Open(ctx, uuid.NewString())
	require.NoError(t, err)
	_, _, _, err = svc.PostCharge(ctx, billingtest.Clerk, acc.ID, "k", billingtest.Charge(1, 100))
	require.NoError(t, err)

	owner, err := pgxpool.New(ctx, clone.OwnerURL)
	require.NoError(t, err)
	defer owner.Close()
	for _, sql := range []string{
		`UPDATE ledger_entries SET amount_minor = 1`,
		`DELETE FROM ledger_entries`,
		`TRUNCATE ledger_entries CASCADE`,
		`UPDATE billing_audit SET outcome = 'success'`,
		`DELETE FROM billing_audit`,
		`TRUNCATE billing_audit`,
	} {
		_, err := clone.Pool.Exec(ctx, sql)
		assert.ErrorContains(t, err, "permission denied", "runtime role: %s", sql)
		_, err = owner.Exec(ctx, sql)
		assert.ErrorContains(t, err, "append-only", "owner: %s", sql)
	}
	// The schema refuses what the domain never writes.
	_, err = owner.Exec(ctx, `INSERT INTO ledger_entries (id, account_id, sequence, kind, amount_minor, currency,
		balance_after_minor, posted_at, posted_by, service_date, code, quantity, unit_price_minor, idempotency_key, request_hash)
		VALUES (gen_random_uuid(), $1, 9, 'CHARGE', 301, 'USD', 0, now(), 'x', current_date, 'C', 3, 100, 'z', '\x00')`, acc.ID)
	assert.ErrorContains(t, err, "check constraint", "a charge's amount is quantity × unit price")
}

// Every change is an event in the outbox, in the same transaction, keyed by
// account, with no codes, descriptions, references or reasons.
func TestChangesPublishBillingEvents(t *testing.T) {
	pool := template.Pool(t)
	ctx := context.Background()
	store := billingdb.New(pool)
	svc, err := billing.NewService(store, "EUR")
	require.NoError(t, err)
	acc, _, err := svc.Open(ctx, uuid.NewString())
	require.NoError(t, err)
	assert.Equal(t, "EUR", acc.Currency)
	_, _, _, err = svc.PostCharge(ctx, billingtest.Clerk, acc.ID, "k", billing.Charge{ServiceDate: "2026-11-02",
		Code: "SECRET-CODE", Description: "Sensitive description", Quantity: 2, UnitPrice: 150})
	require.NoError(t, err)
	_, err = svc.ChangeStatus(ctx, billingtest.Clerk, acc.ID, billing.Hold, 2)
	require.NoError(t, err)

	var got []outbox.Message
	n, err := outbox.PG{Pool: pool, Name: "billingdb"}.PublishPending(ctx, 10, outbox.InOrder(func(_ context.Context, m outbox.Message) error {
		got = append(got, m)
		return nil
	}))
	require.NoError(t, err)
	require.Equal(t, 2, n, "an opening is no event: nothing to count until something is posted")
	var types []string
	for _, m := range got {
		assert.Equal(t, billingevents.Topic, m.Topic)
		assert.Equal(t, acc.ID, m.Key)
		assert.NotContains(t, m.Payload, "SECRET")
		assert.NotContains(t, m.Payload, "Sensitive")
		var ev struct {
			Type  string `json:"type"`
			Entry struct {
				AmountMinor string `json:"amountMinor"`
				Currency    string `json:"currency"`
			} `json:"entry"`
		}
		require.NoError(t, json.Unmarshal([]byte(m.Payload), &ev))
		types = append(types, ev.Type)
		if ev.Type == "ENTRY_POSTED" {
			assert.Equal(t, "300", ev.Entry.AmountMinor)
			assert.Equal(t, "EUR", ev.Entry.Currency)
		}
	}
	assert.Equal(t, []string{"ENTRY_POSTED", "ACCOUNT_STATUS_CHANGED"}, types)
}

// A patient's deletion racing the opening of their account (the
// reconciler opens accounts late) always ends with the account closed.
func TestDeletionRacingTheOpeningClosesTheAccount(t *testing.T) {
	pool := template.Pool(t)
	ctx := context.Background()
	svc, err := billing.NewService(billingdb.New(pool), "USD")
	require.NoError(t, err)
	for range 40 {
		patientID := uuid.NewString()
		var wg sync.WaitGroup
		wg.Go(func() {
			_, _, err := svc.PatientDeleted(ctx, uuid.NewString(), patientID)
			assert.NoError(t, err)
		})
		wg.Go(func() {
			_, _, err := svc.Open(ctx, patientID)
			assert.NoError(t, err)
		})
		wg.Wait()
		acc, err := svc.GetByPatient(ctx, patientID)
		require.NoError(t, err)
		require.Equal(t, billing.StatusClosed, acc.Status, "patient %s", patientID)
	}
}

// Opening is idempotent on the patient: concurrent and repeated openings
// give one account, audited once.
func TestOpeningTwiceGivesOneAccountAuditedOnce(t *testing.T) {
	pool := template.Pool(t)
	ctx := context.Background()
	svc, err := billing.NewService(billingdb.New(pool), "USD")
	require.NoError(t, err)
	patientID := uuid.NewString()
	ids := make([]string, 4)
	created := make([]bool, 4)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			acc, c, err := svc.Open(ctx, patientID)
			assert.NoError(t, err)
			ids[i], created[i] = acc.ID, c
		})
	}
	wg.Wait()
	again, c, err := svc.Open(ctx, patientID)
	require.NoError(t, err)
	assert.False(t, c)
	n := 0
	for i, id := range ids {
		assert.Equal(t, again.ID, id)
		if created[i] {
			n++
		}
	}
	assert.Equal(t, 1, n, "one opening created it")
	var audits int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM billing_audit WHERE action = $1 AND $2::uuid = ANY (account_ids)`,
		billing.ActionAccountOpen, again.ID).Scan(&audits))
	assert.Equal(t, 1, audits)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM billing_audit WHERE action = $1`, billing.ActionAccountOpen).Scan(&audits))
	assert.Equal(t, 1, audits, "the losing openings audited nothing")
}
