package fhirapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/validation"
)

// The FHIR R4 Patient as this server reads and writes it. Only the
// elements the registry stores are accepted; anything else is refused by
// name rather than dropped (see docs/fhir.md for the mapping).

// MRType is the identifier type of a medical record number (HL7 v2 table
// 0203).
var MRType = &CodeableConcept{Coding: []Coding{{System: "http://terminology.hl7.org/CodeSystem/v2-0203", Code: "MR", Display: "Medical record number"}}}

// Coding is a code from a code system.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// CodeableConcept is a concept as codings.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Identifier is a business identifier (the MRN).
type Identifier struct {
	Use      string           `json:"use,omitempty"`
	Type     *CodeableConcept `json:"type,omitempty"`
	System   string           `json:"system,omitempty"`
	Value    string           `json:"value,omitempty"`
	Period   json.RawMessage  `json:"period,omitempty"`
	Assigner json.RawMessage  `json:"assigner,omitempty"`
}

// HumanName is a patient's name.
type HumanName struct {
	Use    string          `json:"use,omitempty"`
	Text   string          `json:"text,omitempty"`
	Family string          `json:"family,omitempty"`
	Given  []string        `json:"given,omitempty"`
	Prefix []string        `json:"prefix,omitempty"`
	Suffix []string        `json:"suffix,omitempty"`
	Period json.RawMessage `json:"period,omitempty"`
}

// ContactPoint is an email address or phone number.
type ContactPoint struct {
	System string          `json:"system,omitempty"`
	Value  string          `json:"value,omitempty"`
	Use    string          `json:"use,omitempty"`
	Rank   json.RawMessage `json:"rank,omitempty"`
	Period json.RawMessage `json:"period,omitempty"`
}

// Address is a postal address; the registry keeps it as its text.
type Address struct {
	Use        string          `json:"use,omitempty"`
	Type       string          `json:"type,omitempty"`
	Text       string          `json:"text,omitempty"`
	Line       []string        `json:"line,omitempty"`
	City       string          `json:"city,omitempty"`
	District   string          `json:"district,omitempty"`
	State      string          `json:"state,omitempty"`
	PostalCode string          `json:"postalCode,omitempty"`
	Country    string          `json:"country,omitempty"`
	Period     json.RawMessage `json:"period,omitempty"`
}

// Meta is a resource's version and time of its last change.
type Meta struct {
	VersionID   string `json:"versionId,omitempty"`
	LastUpdated string `json:"lastUpdated,omitempty"`
}

// Patient is the FHIR Patient resource, restricted to what is stored.
type Patient struct {
	ResourceType string          `json:"resourceType"`
	ID           string          `json:"id,omitempty"`
	Meta         *Meta           `json:"meta,omitempty"`
	Text         json.RawMessage `json:"text,omitempty"` // narrative: accepted, not kept
	Identifier   []Identifier    `json:"identifier,omitempty"`
	Active       *bool           `json:"active,omitempty"`
	Name         []HumanName     `json:"name,omitempty"`
	Telecom      []ContactPoint  `json:"telecom,omitempty"`
	Gender       string          `json:"gender,omitempty"`
	BirthDate    string          `json:"birthDate,omitempty"`
	Address      []Address       `json:"address,omitempty"`
}

// instant is FHIR's instant at millisecond precision, in UTC.
func instant(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// basePatient is p's registry fields as a FHIR Patient. A record without
// a gender shows "unknown" (FHIR's code for it); the name's parts are those
// recorded or, for a record registered as one text, those
// patient.NameParts takes.
func basePatient(p patient.Patient, mrnSystem string) Patient {
	family, given := patient.NamePartsOf(p)
	r := Patient{
		ResourceType: "Patient",
		ID:           p.ID,
		Meta:         &Meta{VersionID: strconv.FormatInt(p.Version, 10), LastUpdated: instant(p.UpdatedAt)},
		Identifier:   []Identifier{{Use: "usual", Type: MRType, System: mrnSystem, Value: p.MRN}},
		Name:         []HumanName{{Use: "official", Text: p.Name, Family: family, Given: given}},
		Telecom:      []ContactPoint{{System: "email", Value: p.Email}},
		Gender:       p.Gender,
		BirthDate:    p.DateOfBirth.Format(patient.DateLayout),
		Address:      []Address{{Text: p.Address}},
	}
	if p.Phone != "" {
		r.Telecom = append(r.Telecom, ContactPoint{System: "phone", Value: p.Phone})
	}
	if r.Gender == "" {
		r.Gender = "unknown"
	}
	return r
}

// fieldError is a refusal of one element, by its FHIRPath.
type fieldError struct{ expression, message string }

// inputError lists what is wrong with a Patient a client sent.
type inputError struct{ fields []fieldError }

func (e *inputError) Error() string { return "invalid Patient" }

func (e *inputError) add(expr, msg string) { e.fields = append(e.fields, fieldError{expr, msg}) }

// decodePatient reads a Patient from body and turns it into a draft: the
// registry's fields from the resource's medical record number (the
// identifier of mrnSystem), its official name (else its usual, else its
// first), its first email and phone and its first address not marked old,
// and the whole resource, kept as sent (patient.More), with the search
// keys of its other identifiers and names. It refuses what R4 refuses
// (r4Check), by element, and what the registry cannot hold: a second
// medical record number, and active false (a record is retired by
// deleting it).
func decodePatient(body []byte, mrnSystem string) (Patient, patient.Draft, error) {
	bad := &inputError{}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		bad.add("Patient", "is not valid JSON")
		return Patient{}, patient.Draft{}, bad
	}
	obj, ok := v.(map[string]any)
	if !ok {
		bad.add("Patient", "must be a JSON object, not "+kindOf(v))
		return Patient{}, patient.Draft{}, bad
	}
	if obj["resourceType"] != "Patient" {
		bad.add("Patient.resourceType", "must be Patient")
		return Patient{}, patient.Draft{}, bad
	}
	r4Check(bad, "Patient", "Patient", "Patient", obj)
	if len(bad.fields) > 0 {
		return Patient{}, patient.Draft{}, bad
	}
	var in Patient
	if err := json.Unmarshal(body, &in); err != nil {
		expr, msg := jsonMessage(err)
		bad.add(expr, msg)
		return Patient{}, patient.Draft{}, bad
	}
	if in.Active != nil && !*in.Active {
		bad.add("Patient.active", "must be true: a record is retired by deleting it")
	}
	d := patient.Draft{Gender: in.Gender, DateOfBirth: in.BirthDate}
	d.More.Identifiers = draftIdentifier(bad, in.Identifier, mrnSystem, &d)
	d.More.OtherNames = draftName(in.Name, &d)
	draftTelecom(in.Telecom, &d)
	draftAddress(in.Address, &d)
	if len(bad.fields) > 0 {
		return Patient{}, patient.Draft{}, bad
	}
	for _, k := range []string{"resourceType", "id", "meta", "text"} {
		delete(obj, k)
	}
	d.More.Resource = canonical(obj)
	return in, d, nil
}

// canonical is v as compact JSON with sorted keys and numbers as sent: the
// same resource always has the same bytes.
func canonical(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// jsonMessage says where a decoding error is (a FHIRPath-like expression:
// the element when it is known, else Patient) and what is wrong: for a
// value of the wrong type, the type the element takes and the one sent.
func jsonMessage(err error) (expr, msg string) {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		expr = "Patient"
		if typeErr.Field != "" {
			expr += "." + typeErr.Field
		}
		sent, _, _ := strings.Cut(typeErr.Value, " ") // "number 19800102" is a number
		if sent == "bool" {
			sent = "boolean"
		}
		return expr, fmt.Sprintf("must be %s, not %s", withArticle("JSON "+jsonKind(typeErr.Type)), withArticle(sent))
	}
	msg = strings.TrimPrefix(err.Error(), "json: ")
	if strings.HasPrefix(msg, "unknown field") {
		return "Patient", "has an element this server does not store: " + strings.TrimPrefix(msg, "unknown field ")
	}
	return "Patient", "is not valid JSON: " + msg
}

// withArticle puts "a" or "an" before a JSON type's name.
func withArticle(s string) string {
	if strings.HasPrefix(s, "a") || strings.HasPrefix(s, "o") {
		return "an " + s
	}
	return "a " + s
}

// jsonKind names the JSON type a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Interface:
		return "value"
	default:
		return "number"
	}
}

// draftIdentifier takes the medical record number (the identifier of
// mrnSystem) and returns the search keys of the others.
func draftIdentifier(bad *inputError, ids []Identifier, mrnSystem string, d *patient.Draft) []string {
	var keys []string
	mrns := 0
	for i, id := range ids {
		if id.System == mrnSystem {
			if mrns++; mrns > 1 {
				bad.add("Patient.identifier["+strconv.Itoa(i)+"]", "only one medical record number ("+mrnSystem+") is kept")
			}
			d.MRN = id.Value
			if d.MRN == "" {
				bad.add("Patient.identifier["+strconv.Itoa(i)+"].value", "is required")
			}
			continue
		}
		if id.Value != "" {
			keys = append(keys, patient.IdentifierKeys(id.System, id.Value)...)
		}
	}
	return keys
}

// primaryName is the index of the name the registry keeps: the official
// one, else the usual one, else the first that is not old; -1 for none.
func primaryName(names []HumanName) int {
	for _, use := range []string{"official", "usual"} {
		for i, n := range names {
			if n.Use == use {
				return i
			}
		}
	}
	uses := make([]string, len(names))
	for i, n := range names {
		uses[i] = n.Use
	}
	return firstNotMarked(uses, "old", "maiden")
}

// firstNotMarked is the index of the first of uses not among marked, else
// 0, or -1 for no uses at all.
func firstNotMarked(uses []string, marked ...string) int {
	for i, u := range uses {
		if !slices.Contains(marked, u) {
			return i
		}
	}
	if len(uses) > 0 {
		return 0
	}
	return -1
}

// draftName takes the primary name and returns the parts of the others,
// tagged by kind ("n:" text, "f:" family, "g:" given) for search.
func draftName(names []HumanName, d *patient.Draft) []string {
	primary := primaryName(names)
	if primary < 0 {
		return nil // Validate says the name is required
	}
	n := names[primary]
	d.Name, d.Family, d.Given = n.Text, n.Family, n.Given
	var others []string
	for i, o := range names {
		if i == primary {
			continue
		}
		if o.Text != "" {
			others = append(others, "n:"+o.Text)
		}
		if o.Family != "" {
			others = append(others, "f:"+o.Family)
		}
		for _, g := range o.Given {
			others = append(others, "g:"+g)
		}
	}
	return others
}

// draftTelecom takes the first email and the first phone number.
func draftTelecom(cps []ContactPoint, d *patient.Draft) {
	for _, cp := range cps {
		switch {
		case cp.System == "email" && d.Email == "":
			d.Email = cp.Value
		case cp.System == "phone" && d.Phone == "":
			d.Phone = cp.Value
		}
	}
}

// primaryAddress is the index of the address the registry keeps: the
// first not marked old or billing-only, else the first; -1 for none.
func primaryAddress(as []Address) int {
	uses := make([]string, len(as))
	for i, a := range as {
		uses[i] = a.Use
	}
	return firstNotMarked(uses, "old", "billing")
}

// addressText is an address as the registry keeps it: the text sent, or
// one written from its parts ("1 Main St, Springfield, IL 62701, US").
func addressText(a Address) string {
	if a.Text != "" {
		return a.Text
	}
	var parts []string
	parts = append(parts, a.Line...)
	parts = append(parts, a.City, a.District, strings.TrimSpace(a.State+" "+a.PostalCode), a.Country)
	var kept []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, ", ")
}

// draftAddress keeps the primary address as its text.
func draftAddress(as []Address, d *patient.Draft) {
	if i := primaryAddress(as); i >= 0 {
		d.Address = addressText(as[i])
	}
}

// expressions are the FHIRPath of each field the domain validates.
var expressions = map[string]string{
	"name": "Patient.name[0]", "name.family": "Patient.name[0].family", "email": "Patient.telecom.where(system='email')",
	"phone": "Patient.telecom.where(system='phone')", "gender": "Patient.gender", "dateOfBirth": "Patient.birthDate",
	"registeredDate": "Patient.birthDate", "address": "Patient.address[0]", "mrn": "Patient.identifier[0].value",
}

// expression is the FHIRPath of a domain validation field.
func expression(field string) string {
	if e, ok := expressions[field]; ok {
		return e
	}
	if rest, ok := strings.CutPrefix(field, "name.given"); ok {
		return "Patient.name[0].given" + rest
	}
	return "Patient." + field
}

// outcomeOf is the OperationOutcome of a refused Patient: one issue per
// element.
func outcomeOf(err error) (status int, issues []fieldError, ok bool) {
	var in *inputError
	if errors.As(err, &in) {
		return http.StatusBadRequest, in.fields, true
	}
	var verr *validation.Error
	if errors.As(err, &verr) {
		for _, f := range verr.Fields {
			issues = append(issues, fieldError{expression(f.Field), f.Message})
		}
		return http.StatusBadRequest, issues, true
	}
	return 0, nil, false
}
