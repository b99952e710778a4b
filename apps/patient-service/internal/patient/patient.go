// Package patient is the patient registry's domain: the record, its
// validation rules, the events a change produces, and the Service that
// registers patients and makes sure each one gets a billing account.
package patient

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/pms-dapr/pms/platform/validation"
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
	ErrGone       = errors.New("patient deleted")
	ErrEmailTaken = errors.New("email already registered")
	ErrMRNTaken   = errors.New("medical record number already registered")
	// ErrVersionMismatch: the change was based on an older version.
	ErrVersionMismatch = errors.New("patient changed since it was read")
	// ErrIdempotencyMismatch: an Idempotency-Key was reused for a
	// different request.
	ErrIdempotencyMismatch = errors.New("idempotency key reused with a different request")
	// ErrForbidden: the caller's role does not allow the operation.
	ErrForbidden = errors.New("not allowed for this role")
	// ErrMultipleMatches: a conditional create's criteria match more than
	// one patient.
	ErrMultipleMatches = errors.New("more than one patient matches")
)

// Genders are the FHIR AdministrativeGender codes.
var Genders = []string{"male", "female", "other", "unknown"}

// Patient is one registered patient.
type Patient struct {
	ID               string
	Name             string   // the full name as written (FHIR HumanName.text)
	Family           string   // family name part (see NameParts)
	Given            []string // given name parts
	Email            string
	Address          string
	Phone            string    // optional
	Gender           string    // optional, one of Genders
	MRN              string    // medical record number, unique
	DateOfBirth      time.Time // UTC midnight
	RegisteredDate   time.Time // UTC midnight
	BillingAccountID string    // empty until billing-service has opened the account
	Version          int64
	CreatedAt        time.Time
	UpdatedAt        time.Time
	DeletedAt        time.Time // zero unless soft-deleted
	// More is what a FHIR client sent beyond the fields above; empty for
	// a record only the JSON API has written.
	More More
}

// More is the rest of a patient as a FHIR client sent it: identifiers of
// other systems, other names, contacts, extensions and every other
// element. The registry keeps it whole for FHIR reads and searches on
// what it names, and never shows it in the JSON API or in events.
type More struct {
	// Resource is the FHIR resource as sent, less its id, meta and text.
	Resource json.RawMessage `json:",omitempty"`
	// Identifiers are the search keys (IdentifierKeys) of the identifiers
	// of other systems.
	Identifiers []string `json:",omitempty"`
	// OtherNames are the patient's other names (maiden, nickname, old)
	// as text; their words are searched as the name's are.
	OtherNames []string `json:",omitempty"`
}

// IdentifierKeys are the search keys of an identifier of system with
// value: system and value, the system alone, and the value in any system
// ("*|value"), lower case.
func IdentifierKeys(system, value string) []string {
	s, v := strings.ToLower(system), strings.ToLower(value)
	return []string{s + "|" + v, s + "|", "*|" + v}
}

// Deleted reports whether the record was soft-deleted.
func (p Patient) Deleted() bool { return !p.DeletedAt.IsZero() }

// Draft is a patient as a client submitted it, before validation.
type Draft struct {
	Name string
	// Family and Given are the name's parts, when a client sends them;
	// left empty they are taken from Name (NameParts). Omitted from a
	// draft's fingerprint when empty, so hashDraft is what it was for
	// clients that never send them.
	Family         string   `json:",omitempty"`
	Given          []string `json:",omitempty"`
	Email          string
	Address        string
	DateOfBirth    string
	RegisteredDate string // optional; today when empty
	Phone          string // optional
	Gender         string // optional
	MRN            string // optional; generated when empty
	More           More   `json:",omitzero"` // FHIR's rest of the patient; kept as is
}

// DraftOf is the client-writable part of p, as a client would send it.
func DraftOf(p Patient) Draft {
	return Draft{Name: p.Name, Family: p.Family, Given: p.Given, Email: p.Email, Address: p.Address,
		DateOfBirth: p.DateOfBirth.Format(DateLayout), RegisteredDate: p.RegisteredDate.Format(DateLayout),
		Phone: p.Phone, Gender: p.Gender, MRN: p.MRN, More: p.More}
}

// Validate checks d against the registry's rules and returns the normalised
// patient (without id or timestamps). today is the current date in UTC.
func (d Draft) Validate(today time.Time) (Patient, error) {
	verr := validation.New("patient")
	p := Patient{
		Name:    strings.TrimSpace(d.Name),
		Email:   strings.TrimSpace(d.Email),
		Address: strings.TrimSpace(d.Address),
		Phone:   strings.TrimSpace(d.Phone),
		Gender:  strings.TrimSpace(d.Gender),
		MRN:     strings.TrimSpace(d.MRN),
		More:    d.More,
	}
	p.Family, p.Given = nameParts(verr, d.Family, d.Given)
	if p.Name == "" && (p.Family != "" || len(p.Given) > 0) {
		p.Name = strings.TrimSpace(strings.Join(append(slices.Clone(p.Given), p.Family), " "))
	}
	requireText(verr, "name", p.Name, MaxNameLen)
	if p.Family == "" && len(p.Given) == 0 {
		p.Family, p.Given = NameParts(p.Name)
	}
	requireText(verr, "address", p.Address, MaxAddressLen)
	if p.Phone != "" && !validPhone(p.Phone) {
		verr.Add("phone", "must be a phone number of 5 to 20 digits, optionally with +, spaces, dashes or parentheses")
	}
	if p.Gender != "" && !slices.Contains(Genders, p.Gender) {
		verr.Add("gender", "must be one of male, female, other, unknown")
	}
	if p.MRN != "" && !validMRN(p.MRN) {
		verr.Add("mrn", "must be 3 to 32 letters, digits or dashes")
	}
	switch {
	case p.Email == "":
		verr.Add("email", "is required")
	case len(p.Email) > MaxEmailLen:
		verr.Add("email", "must be at most 254 characters")
	case !validEmail(p.Email):
		verr.Add("email", "must be an email address like name@example.com")
	}
	p.DateOfBirth = parseDate(verr, "dateOfBirth", d.DateOfBirth, today, true)
	p.RegisteredDate = parseDate(verr, "registeredDate", d.RegisteredDate, today, false)
	if p.RegisteredDate.IsZero() {
		p.RegisteredDate = today
	}
	if len(verr.Fields) > 0 {
		return Patient{}, verr
	}
	if p.RegisteredDate.Before(p.DateOfBirth) {
		verr.Add("registeredDate", "must not be before dateOfBirth")
		return Patient{}, verr
	}
	return p, nil
}

func requireText(verr *validation.Error, field, v string, max int) {
	switch {
	case v == "":
		verr.Add(field, "is required")
	case !utf8.ValidString(v):
		verr.Add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(v) > max:
		verr.Add(field, "must be at most "+strconv.Itoa(max)+" characters")
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' }):
		verr.Add(field, "must not contain control characters")
	}
}

func validPhone(s string) bool {
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '-', r == '(', r == ')', r == '.':
		default:
			return false
		}
	}
	return digits >= 5 && digits <= 20 && len(s) <= 32
}

func validMRN(s string) bool {
	if len(s) < 3 || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return false
		}
	}
	return true
}

// NewMRN makes a medical record number for a patient registered without one.
func NewMRN() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789" // no 0/O, 1/I
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "MRN-" + string(b)
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

func parseDate(verr *validation.Error, field, v string, today time.Time, required bool) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		if required {
			verr.Add(field, "is required")
		}
		return time.Time{}
	}
	t, err := time.Parse(DateLayout, v)
	switch {
	case err != nil:
		verr.Add(field, "must be a real date in the form YYYY-MM-DD")
	case t.After(today):
		verr.Add(field, "must not be in the future")
	case t.Before(earliestDate):
		verr.Add(field, "must not be before 1880-01-01")
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

// Age bands events carry instead of a date of birth. Ages over 89 are one
// band, as HIPAA's Safe Harbor de-identification requires.
var ageBands = []struct {
	upTo int // inclusive; -1: no upper bound
	name string
}{{17, "0-17"}, {29, "18-29"}, {44, "30-44"}, {64, "45-64"}, {89, "65-89"}, {-1, "90+"}}

// AgeBand is the age band of someone born on dob, at time at (UTC dates).
func AgeBand(dob, at time.Time) string {
	if dob.IsZero() {
		return ""
	}
	dob, at = dob.UTC(), at.UTC()
	age := at.Year() - dob.Year()
	if at.Month() < dob.Month() || (at.Month() == dob.Month() && at.Day() < dob.Day()) {
		age--
	}
	for _, b := range ageBands {
		if b.upTo < 0 || age <= b.upTo {
			return b.name
		}
	}
	return ""
}

// MaxGivenNames bounds the given names of one patient.
const MaxGivenNames = 10

// nameParts trims and checks the name parts a client sent.
func nameParts(verr *validation.Error, family string, given []string) (string, []string) {
	family = strings.TrimSpace(family)
	if family != "" {
		requireText(verr, "name.family", family, MaxNameLen)
	}
	if len(given) > MaxGivenNames {
		verr.Add("name.given", "must be at most "+strconv.Itoa(MaxGivenNames)+" names")
		return family, nil
	}
	var out []string
	for i, g := range given {
		g = strings.TrimSpace(g)
		requireText(verr, "name.given["+strconv.Itoa(i)+"]", g, MaxNameLen)
		out = append(out, g)
	}
	return family, out
}

// NameParts splits a full name written as one text into family and given
// parts, for records registered without parts: the last word is the family
// name and the words before it are given names ("Ana María López" →
// "López", ["Ana", "María"]). A one-word name is a family name.
func NameParts(name string) (family string, given []string) {
	words := strings.Fields(name)
	if len(words) == 0 {
		return "", nil
	}
	given = words[:len(words)-1]
	if len(given) == 0 {
		given = nil
	}
	return words[len(words)-1], given
}
