package patient_test

import (
	"context"
	"errors"
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
		want []patient.FieldError
	}{
		"all missing": {func(d *patient.Draft) { *d = patient.Draft{} }, []patient.FieldError{
			{"name", "is required"}, {"address", "is required"}, {"email", "is required"}, {"dateOfBirth", "is required"},
		}},
		"email without domain": {func(d *patient.Draft) { d.Email = "ada@" }, []patient.FieldError{
			{"email", "must be an email address like name@example.com"}}},
		"email with display name": {func(d *patient.Draft) { d.Email = "Ada <ada@example.com>" }, []patient.FieldError{
			{"email", "must be an email address like name@example.com"}}},
		"impossible date": {func(d *patient.Draft) { d.DateOfBirth = "2023-02-29" }, []patient.FieldError{
			{"dateOfBirth", "must be a real date in the form YYYY-MM-DD"}}},
		"other date format": {func(d *patient.Draft) { d.DateOfBirth = "10/12/1985" }, []patient.FieldError{
			{"dateOfBirth", "must be a real date in the form YYYY-MM-DD"}}},
		"born tomorrow": {func(d *patient.Draft) { d.DateOfBirth = "2026-11-25" }, []patient.FieldError{
			{"dateOfBirth", "must not be in the future"}}},
		"too old": {func(d *patient.Draft) { d.DateOfBirth = "1800-01-01" }, []patient.FieldError{
			{"dateOfBirth", "must not be before 1880-01-01"}}},
		"name too long": {func(d *patient.Draft) { d.Name = strings.Repeat("a", 201) }, []patient.FieldError{
			{"name", "must be at most 200 characters"}}},
		"control character": {func(d *patient.Draft) { d.Address = "line\x00two" }, []patient.FieldError{
			{"address", "must not contain control characters"}}},
		"registered before birth": {func(d *patient.Draft) { d.RegisteredDate = "1980-01-01" }, []patient.FieldError{
			{"registeredDate", "must not be before dateOfBirth"}}},
		"registered in future": {func(d *patient.Draft) { d.RegisteredDate = "2027-01-01" }, []patient.FieldError{
			{"registeredDate", "must not be in the future"}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := valid()
			tc.edit(&d)
			_, err := d.Validate(today)
			var verr *patient.ValidationError
			require.ErrorAs(t, err, &verr)
			if diff := cmp.Diff(tc.want, verr.Fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeStore keeps patients in memory.
type fakeStore struct {
	mu       sync.Mutex
	patients map[string]patient.Patient
	events   []patient.Event
	err      error
}

func newFakeStore() *fakeStore { return &fakeStore{patients: map[string]patient.Patient{}} }

func (s *fakeStore) Create(_ context.Context, p patient.Patient, ev patient.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.patients[p.ID] = p
	s.events = append(s.events, ev)
	return nil
}

func (s *fakeStore) Get(_ context.Context, id string) (patient.Patient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.patients[id]
	if !ok {
		return patient.Patient{}, patient.ErrNotFound
	}
	return p, nil
}

func (s *fakeStore) List(context.Context, int) ([]patient.Patient, error) { return nil, nil }

func (s *fakeStore) SetBillingAccount(_ context.Context, id, acct string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.patients[id]
	if p.BillingAccountID == "" {
		p.BillingAccountID = acct
	}
	s.patients[id] = p
	return nil
}

func (s *fakeStore) MissingBillingAccount(context.Context, int) ([]patient.Patient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []patient.Patient
	for _, p := range s.patients {
		if p.BillingAccountID == "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// fakeBilling fails while down is set.
type fakeBilling struct {
	mu    sync.Mutex
	down  bool
	calls int
}

func (b *fakeBilling) CreateAccount(_ context.Context, p patient.Patient) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.down {
		return "", errors.New("billing unavailable")
	}
	return "acct-" + p.ID, nil
}

func (b *fakeBilling) setDown(v bool) {
	b.mu.Lock()
	b.down = v
	b.mu.Unlock()
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestCreateStoresPatientWithEventAndAccount(t *testing.T) {
	store, billing := newFakeStore(), &fakeBilling{}
	svc := patient.NewService(store, billing, discard())
	p, err := svc.Create(context.Background(), valid())
	require.NoError(t, err)
	assert.True(t, patient.ValidID(p.ID))
	assert.Equal(t, "acct-"+p.ID, p.BillingAccountID)
	assert.EqualValues(t, 1, p.Version)
	require.Len(t, store.events, 1)
	assert.Equal(t, patient.EventCreated, store.events[0].Type)
	assert.Equal(t, p.ID, store.events[0].Patient.ID)
	assert.NotEqual(t, p.ID, store.events[0].ID, "events have their own ids")
	stored, _ := store.Get(context.Background(), p.ID)
	assert.Equal(t, "acct-"+p.ID, stored.BillingAccountID)
}

func TestCreateInvalidStoresNothing(t *testing.T) {
	store, billing := newFakeStore(), &fakeBilling{}
	svc := patient.NewService(store, billing, discard())
	_, err := svc.Create(context.Background(), patient.Draft{Name: "x"})
	var verr *patient.ValidationError
	require.ErrorAs(t, err, &verr)
	assert.Empty(t, store.patients)
	assert.Zero(t, billing.calls)
}

func TestCreatePropagatesStoreErrors(t *testing.T) {
	store := newFakeStore()
	store.err = patient.ErrEmailTaken
	svc := patient.NewService(store, &fakeBilling{}, discard())
	_, err := svc.Create(context.Background(), valid())
	assert.ErrorIs(t, err, patient.ErrEmailTaken)
}

func TestBillingOutageIsReconciled(t *testing.T) {
	store, billing := newFakeStore(), &fakeBilling{down: true}
	svc := patient.NewService(store, billing, discard())
	p, err := svc.Create(context.Background(), valid())
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

func TestListLimits(t *testing.T) {
	svc := patient.NewService(newFakeStore(), &fakeBilling{}, discard())
	for _, limit := range []int{-1, 101} {
		_, err := svc.List(context.Background(), limit)
		var verr *patient.ValidationError
		assert.ErrorAs(t, err, &verr, "limit %d", limit)
	}
	_, err := svc.List(context.Background(), 0)
	assert.NoError(t, err)
}

func TestGetMalformedIDIsNotFound(t *testing.T) {
	svc := patient.NewService(newFakeStore(), &fakeBilling{}, discard())
	_, err := svc.Get(context.Background(), "../../etc")
	assert.ErrorIs(t, err, patient.ErrNotFound)
}
