// Package patient is the patient registry's domain: the record, its
// validation rules, the events a change produces, and the Service that
// registers patients and makes sure each one gets a billing account.
package patient

import (
	"errors"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// DateLayout is the wire format of every date (ISO 8601 calendar date).
const DateLayout = "2006-01-02"

// Field limits, generous enough for real names and addresses.
const (
	MaxNameLen    = 200
	MaxEmailLen   = 254
	MaxAddressLen = 500
)

// Sentinel errors the adapters map to their protocol's status.
var (
	ErrNotFound   = errors.New("patient not found")
	ErrEmailTaken = errors.New("email already registered")
)

// Patient is one registered patient.
type Patient struct {
	ID               string
	Name             string
	Email            string
	Address          string
	DateOfBirth      time.Time // UTC midnight
	RegisteredDate   time.Time // UTC midnight
	BillingAccountID string    // empty until billing-service has opened the account
	Version          int64
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Draft is a patient as a client submitted it, before validation.
type Draft struct {
	Name           string
	Email          string
	Address        string
	DateOfBirth    string
	RegisteredDate string // optional; today when empty
}

// FieldError says why one input field was rejected.
type FieldError struct {
	Field   string
	Message string
}

// ValidationError lists every invalid field of one input.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Field + ": " + f.Message
	}
	return "invalid patient: " + strings.Join(msgs, "; ")
}

func (e *ValidationError) add(field, msg string) { e.Fields = append(e.Fields, FieldError{field, msg}) }

// Validate checks d against the registry's rules and returns the normalised
// patient (without id or timestamps). today is the current date in UTC.
func (d Draft) Validate(today time.Time) (Patient, error) {
	var verr ValidationError
	p := Patient{
		Name:    strings.TrimSpace(d.Name),
		Email:   strings.TrimSpace(d.Email),
		Address: strings.TrimSpace(d.Address),
	}
	requireText(&verr, "name", p.Name, MaxNameLen)
	requireText(&verr, "address", p.Address, MaxAddressLen)
	switch {
	case p.Email == "":
		verr.add("email", "is required")
	case len(p.Email) > MaxEmailLen:
		verr.add("email", "must be at most 254 characters")
	case !validEmail(p.Email):
		verr.add("email", "must be an email address like name@example.com")
	}
	p.DateOfBirth = parseDate(&verr, "dateOfBirth", d.DateOfBirth, today, true)
	p.RegisteredDate = parseDate(&verr, "registeredDate", d.RegisteredDate, today, false)
	if p.RegisteredDate.IsZero() {
		p.RegisteredDate = today
	}
	if len(verr.Fields) > 0 {
		return Patient{}, &verr
	}
	if p.RegisteredDate.Before(p.DateOfBirth) {
		verr.add("registeredDate", "must not be before dateOfBirth")
		return Patient{}, &verr
	}
	return p, nil
}

func requireText(verr *ValidationError, field, v string, max int) {
	switch {
	case v == "":
		verr.add(field, "is required")
	case !utf8.ValidString(v):
		verr.add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(v) > max:
		verr.add(field, "must be at most "+strconv.Itoa(max)+" characters")
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' }):
		verr.add(field, "must not contain control characters")
	}
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && strings.Contains(s[at+1:], ".")
}

// earliestDate bounds dates of birth to something a living patient can have.
var earliestDate = time.Date(1880, 1, 1, 0, 0, 0, 0, time.UTC)

func parseDate(verr *ValidationError, field, v string, today time.Time, required bool) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		if required {
			verr.add(field, "is required")
		}
		return time.Time{}
	}
	t, err := time.Parse(DateLayout, v)
	switch {
	case err != nil:
		verr.add(field, "must be a real date in the form YYYY-MM-DD")
	case t.After(today):
		verr.add(field, "must not be in the future")
	case t.Before(earliestDate):
		verr.add(field, "must not be before 1880-01-01")
	default:
		return t
	}
	return time.Time{}
}

// ValidID reports whether id is a well-formed patient id (a UUID).
func ValidID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}
