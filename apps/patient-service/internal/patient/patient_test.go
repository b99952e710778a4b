package patient_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patient/patienttest"
	"github.com/pms-dapr/pms/platform/validation"
)

var today = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

func valid() patient.Draft {
	return patient.Draft{Name: "Ada Lovelace", Email: "ada@example.com", Address: "12 St James Sq", DateOfBirth: "1985-12-10"}
}

func TestValidateAcceptsAndNormalises(t *testing.T) {
	d := valid()
	d.Name, d.Email = "  Ada Lovelace ", " ada@example.com"
	p, err := d.Validate(today)
	require.NoError(t, err)
	assert.Equal(t, "Ada Lovelace", p.Name)
	assert.Equal(t, "ada@example.com", p.Email)
	assert.Equal(t, time.Date(1985, 12, 10, 0, 0, 0, 0, time.UTC), p.DateOfBirth)
	assert.Equal(t, today, p.RegisteredDate, "registeredDate defaults to today")
}

func TestValidateRejects(t *testing.T) {
	cases := map[string]struct {
		edit func(*patient.Draft)
		want []validation.FieldError
	}{
		"all missing": {func(d *patient.Draft) { *d = patient.Draft{} }, []validation.FieldError{
			{Field: "name", Message: "is required"}, {Field: "address", Message: "is required"}, {Field: "email", Message: "is required"}, {Field: "dateOfBirth", Message: "is required"},
		}},
		"email without domain": {func(d *patient.Draft) { d.Email = "ada@" }, []validation.FieldError{
			{Field: "email", Message: "must be an email address like name@example.com"}}},
		"email with display name": {func(d *patient.Draft) { d.Email = "Ada <ada@example.com>" }, []validation.FieldError{
			{Field: "email", Message: "must be an email address like name@example.com"}}},
		"impossible date": {func(d *patient.Draft) { d.DateOfBirth = "2023-02-29" }, []validation.FieldError{
			{Field: "dateOfBirth", Message: "must be a real date in the form YYYY-MM-DD"}}},
		"other date format": {func(d *patient.Draft) { d.DateOfBirth = "10/12/1985" }, []validation.FieldError{
			{Field: "dateOfBirth", Message: "must be a real date in the form YYYY-MM-DD"}}},
		"born tomorrow": {func(d *patient.Draft) { d.DateOfBirth = "2026-11-25" }, []validation.FieldError{
			{Field: "dateOfBirth", Message: "must not be in the future"}}},
		"too old": {func(d *patient.Draft) { d.DateOfBirth = "1800-01-01" }, []validation.FieldError{
			{Field: "dateOfBirth", Message: "must not be before 1880-01-01"}}},
		"name too long": {func(d *patient.Draft) { d.Name = strings.Repeat("a", 201) }, []validation.FieldError{
			{Field: "name", Message: "must be at most 200 characters"}}},
		"control character": {func(d *patient.Draft) { d.Address = "line\x00two" }, []validation.FieldError{
			{Field: "address", Message: "must not contain control characters"}}},
		"registered before birth": {func(d *patient.Draft) { d.RegisteredDate = "1980-01-01" }, []validation.FieldError{
			{Field: "registeredDate", Message: "must not be before dateOfBirth"}}},
		"registered in future": {func(d *patient.Draft) { d.RegisteredDate = "2027-01-01" }, []validation.FieldError{
			{Field: "registeredDate", Message: "must not be in the future"}}},
		"bad phone": {func(d *patient.Draft) { d.Phone = "call me" }, []validation.FieldError{
			{Field: "phone", Message: "must be a phone number of 5 to 20 digits, optionally with +, spaces, dashes or parentheses"}}},
		"bad gender": {func(d *patient.Draft) { d.Gender = "M" }, []validation.FieldError{
			{Field: "gender", Message: "must be one of male, female, other, unknown"}}},
		"bad mrn": {func(d *patient.Draft) { d.MRN = "a b" }, []validation.FieldError{
			{Field: "mrn", Message: "must be 3 to 32 letters, digits or dashes"}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := valid()
			tc.edit(&d)
			_, err := d.Validate(today)
			var verr *validation.Error
			require.ErrorAs(t, err, &verr)
			if diff := cmp.Diff(tc.want, verr.Fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeBilling fails while down is set.
type fakeBilling struct {
	mu     sync.Mutex
	down   bool
	refuse map[string]bool // patient ids billing rejects for good
	calls  int
}

func (b *fakeBilling) CreateAccount(_ context.Context, p patient.Patient) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.down {
		return "", errors.New("billing unavailable")
	}
	if b.refuse[p.ID] {
		return "", errors.New("billing refuses this patient")
	}
	return "acct-" + p.ID, nil
}

// CreateAccounts opens each account as CreateAccount; one refusal fails
// the call, as billing's one transaction would.
func (b *fakeBilling) CreateAccounts(ctx context.Context, ids []string) ([]string, error) {
	out := make([]string, len(ids))
	for i, id := range ids {
		acct, err := b.CreateAccount(ctx, patient.Patient{ID: id})
		if err != nil {
			return nil, err
		}
		out[i] = acct
	}
	return out, nil
}

func (b *fakeBilling) setDown(v bool) {
	b.mu.Lock()
	b.down = v
	b.mu.Unlock()
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

var (
	clinician = patient.Actor{UserID: "u-clin", Role: "clinician", RequestID: "r-1"}
	admin     = patient.Actor{UserID: "u-admin", Role: "admin", RequestID: "r-2"}
)

func TestCreateStoresPatientWithEventAuditAndAccount(t *testing.T) {
	store, billing := patienttest.NewFakeStore(), &fakeBilling{}
	svc := patient.NewService(store, billing, discard())
	p, replayed, err := svc.Create(context.Background(), clinician, valid(), "")
	require.NoError(t, err)
	assert.False(t, replayed)
	assert.True(t, patient.ValidID(p.ID))
	assert.Equal(t, "acct-"+p.ID, p.BillingAccountID)
	assert.EqualValues(t, 1, p.Version)
	assert.Regexp(t, `^MRN-[A-Z2-9]{10}$`, p.MRN, "generated when absent")
	require.Len(t, store.Events, 1)
	assert.Equal(t, patient.EventCreated, store.Events[0].Type)
	assert.Equal(t, p.ID, store.Events[0].Patient.ID)
	assert.NotEqual(t, p.ID, store.Events[0].ID, "events have their own ids")
	require.Len(t, store.Audit, 1)
	assert.Equal(t, patient.AuditEntry{At: store.Audit[0].At, UserID: "u-clin", Role: "clinician", Action: "create",
		PatientIDs: []string{p.ID}, RequestID: "r-1", Outcome: "success"}, store.Audit[0])
}

func TestCreateInvalidStoresNothingButAudits(t *testing.T) {
	store, billing := patienttest.NewFakeStore(), &fakeBilling{}
	svc := patient.NewService(store, billing, discard())
	_, _, err := svc.Create(context.Background(), clinician, patient.Draft{Name: "x"}, "")
	var verr *validation.Error
	require.ErrorAs(t, err, &verr)
	assert.Empty(t, store.Patients)
	assert.Zero(t, billing.calls)
	require.Len(t, store.Audit, 1)
	assert.Equal(t, "invalid", store.Audit[0].Outcome)
}

func TestCreatePropagatesStoreErrors(t *testing.T) {
	store := patienttest.NewFakeStore()
	store.Err = patient.ErrEmailTaken
	svc := patient.NewService(store, &fakeBilling{}, discard())
	_, _, err := svc.Create(context.Background(), clinician, valid(), "")
	assert.ErrorIs(t, err, patient.ErrEmailTaken)
}

func TestBillingOutageIsReconciled(t *testing.T) {
	store, billing := patienttest.NewFakeStore(), &fakeBilling{down: true}
	svc := patient.NewService(store, billing, discard())
	p, _, err := svc.Create(context.Background(), clinician, valid(), "")
	require.NoError(t, err, "a billing outage does not fail registration")
	assert.Empty(t, p.BillingAccountID)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- svc.ReconcileBilling(ctx, 10*time.Millisecond, 40*time.Millisecond) }()
	time.Sleep(60 * time.Millisecond)
	missing, _ := store.MissingBillingAccount(ctx, 10)
	assert.Len(t, missing, 1, "still missing while billing is down")

	billing.setDown(false)
	assert.Eventually(t, func() bool {
		got, _ := store.Get(context.Background(), p.ID)
		return got.BillingAccountID == "acct-"+p.ID
	}, 2*time.Second, 10*time.Millisecond)
	cancel()
	assert.NoError(t, <-done)
}

// After an outage, one round opens every missing account however many
// batches they fill, and a patient billing refuses for good does not hold up
// the ones behind it.
func TestReconciliationDrainsTheBacklog(t *testing.T) {
	store, billing := patienttest.NewFakeStore(), &fakeBilling{down: true}
	svc := patient.NewService(store, billing, discard())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var first string
	for i := range 250 {
		d := valid()
		d.Email = fmt.Sprintf("p%d@example.com", i)
		d.MRN = fmt.Sprintf("MRN-%d", i)
		p, _, err := svc.Create(ctx, clinician, d, "")
		require.NoError(t, err)
		if i == 0 {
			first = p.ID
		}
	}
	billing.mu.Lock()
	billing.down, billing.refuse = false, map[string]bool{first: true}
	billing.mu.Unlock()

	done := make(chan error)
	go func() { done <- svc.ReconcileBilling(ctx, 10*time.Millisecond, time.Hour) }()
	assert.Eventually(t, func() bool {
		missing, _ := store.MissingBillingAccount(ctx, 1000)
		return len(missing) == 1 && missing[0].ID == first
	}, 2*time.Second, 5*time.Millisecond, "all but the refused patient have accounts")
	cancel()
	assert.NoError(t, <-done)
}

func TestChangesNeedTheCurrentVersion(t *testing.T) {
	store := patienttest.NewFakeStore()
	svc := patient.NewService(store, &fakeBilling{}, discard())
	ctx := context.Background()
	p, _, err := svc.Create(ctx, clinician, valid(), "")
	require.NoError(t, err)

	d := valid()
	d.Name = "Ada King"
	_, err = svc.Replace(ctx, clinician, p.ID, 2, d)
	assert.ErrorIs(t, err, patient.ErrVersionMismatch)
	up, err := svc.Replace(ctx, clinician, p.ID, 1, d)
	require.NoError(t, err)
	assert.EqualValues(t, 2, up.Version)
	assert.Equal(t, "Ada King", up.Name)
	assert.Equal(t, p.MRN, up.MRN, "an MRN left out is kept")
	assert.Equal(t, p.BillingAccountID, up.BillingAccountID, "server-owned fields survive")
	assert.Equal(t, patient.EventUpdated, store.Events[len(store.Events)-1].Type)

	patched, err := svc.Patch(ctx, clinician, p.ID, 2, func(d patient.Draft) (patient.Draft, error) {
		d.Phone = "+44 20 7946 0000"
		return d, nil
	})
	require.NoError(t, err)
	assert.EqualValues(t, 3, patched.Version)
	assert.Equal(t, "Ada King", patched.Name)

	assert.ErrorIs(t, svc.Delete(ctx, clinician, p.ID, 3), patient.ErrForbidden, "only admins delete")
	require.NoError(t, svc.Delete(ctx, admin, p.ID, 3))
	assert.Equal(t, patient.EventDeleted, store.Events[len(store.Events)-1].Type)
	assert.EqualValues(t, 4, store.Events[len(store.Events)-1].Patient.Version)
	_, err = svc.Get(ctx, clinician, p.ID)
	assert.ErrorIs(t, err, patient.ErrGone)
	_, err = svc.Replace(ctx, clinician, p.ID, 4, d)
	assert.ErrorIs(t, err, patient.ErrGone)
}

func TestSearchAndAuditTrailRules(t *testing.T) {
	store := patienttest.NewFakeStore()
	svc := patient.NewService(store, &fakeBilling{}, discard())
	ctx := context.Background()
	_, err := svc.Search(ctx, clinician, patient.Query{Deleted: true, Limit: 20})
	assert.ErrorIs(t, err, patient.ErrForbidden, "only admins list deleted records")
	_, err = svc.Search(ctx, admin, patient.Query{Deleted: true, Limit: 20})
	assert.NoError(t, err)
	_, err = svc.AuditTrail(ctx, clinician, "6f1c4a50-0000-4000-8000-000000000000", patient.AuditQuery{Limit: 20})
	assert.ErrorIs(t, err, patient.ErrForbidden)
	outcomes := []string{}
	for _, e := range store.Audit {
		outcomes = append(outcomes, e.Action+":"+e.Outcome)
	}
	assert.Equal(t, []string{"search:forbidden", "search:success", "audit.read:forbidden"}, outcomes, "refusals are audited too")
}

func TestQueryInputParsing(t *testing.T) {
	q, err := patient.QueryInput{Name: " Ad ", BirthDate: "1985-12-10", Limit: "50"}.Parse()
	require.NoError(t, err)
	assert.Equal(t, "Ad", q.Name)
	assert.Equal(t, 50, q.Limit)
	c := patient.Cursor{CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC), ID: "6f1c4a50-0000-4000-8000-000000000000"}
	q, err = patient.QueryInput{Cursor: c.Encode()}.Parse()
	require.NoError(t, err)
	assert.Equal(t, &c, q.After)
	assert.Equal(t, patient.DefaultListLimit, q.Limit)

	_, err = patient.QueryInput{Limit: "101", Cursor: "!!", BirthDate: "1985-13-01"}.Parse()
	var verr *validation.Error
	require.ErrorAs(t, err, &verr)
	assert.Len(t, verr.Fields, 3)
}

func TestGetMalformedIDIsNotFound(t *testing.T) {
	svc := patient.NewService(patienttest.NewFakeStore(), &fakeBilling{}, discard())
	_, err := svc.Get(context.Background(), clinician, "../../etc")
	assert.ErrorIs(t, err, patient.ErrNotFound)
}

func TestAgeBandDeidentifiesTheDateOfBirth(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for dob, want := range map[string]string{
		"2026-11-25": "0-17",
		"2008-11-26": "0-17", // 18 tomorrow
		"2008-11-25": "18-29",
		"1996-11-26": "18-29",
		"1996-11-25": "30-44",
		"1981-11-25": "45-64",
		"1961-11-25": "65-89",
		"1936-11-26": "65-89",
		"1936-11-25": "90+",
		"1880-01-01": "90+",
	} {
		d, err := time.Parse(patient.DateLayout, dob)
		require.NoError(t, err)
		assert.Equal(t, want, patient.AgeBand(d, at), dob)
	}
	assert.Empty(t, patient.AgeBand(time.Time{}, at))
}

// The in-memory store meets the same contract as the PostgreSQL store
// (patientdb runs it too), refusals of NUL and invalid UTF-8 included.
func TestFakeStoreMeetsTheStoreContract(t *testing.T) {
	patienttest.StoreContract(t, func(*testing.T) patient.Store { return patienttest.NewFakeStore() })
}
