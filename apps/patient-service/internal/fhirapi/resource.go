package fhirapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sort"
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

// Resource is p as a FHIR Patient. A record without a gender shows
// "unknown" (FHIR's code for it); the name's parts are those recorded or,
// for a record registered as one text, those patient.NameParts takes.
func Resource(p patient.Patient, mrnSystem string) Patient {
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

// elements are the Patient elements a client may send.
var elements = map[string]bool{"resourceType": true, "id": true, "meta": true, "text": true, "identifier": true,
	"active": true, "name": true, "telecom": true, "gender": true, "birthDate": true, "address": true}

// fieldError is a refusal of one element, by its FHIRPath.
type fieldError struct{ expression, message string }

// inputError lists what is wrong with a Patient a client sent.
type inputError struct{ fields []fieldError }

func (e *inputError) Error() string { return "invalid Patient" }

func (e *inputError) add(expr, msg string) { e.fields = append(e.fields, fieldError{expr, msg}) }

// decodePatient reads a Patient from body and turns it into a draft. It
// refuses, by name, elements the registry does not store, a second name,
// email, phone or address, and identifiers other than the MRN of
// mrnSystem.
func decodePatient(body []byte, mrnSystem string) (Patient, patient.Draft, error) {
	bad := &inputError{}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		bad.add("Patient", "must be a JSON object")
		return Patient{}, patient.Draft{}, bad
	}
	var unknown []string
	for k := range top {
		if !elements[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		bad.add("Patient."+k, "is not stored by this server (docs/fhir.md lists the elements it keeps)")
	}
	if len(bad.fields) > 0 {
		return Patient{}, patient.Draft{}, bad
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var in Patient
	if err := dec.Decode(&in); err != nil {
		expr, msg := jsonMessage(err)
		bad.add(expr, msg)
		return Patient{}, patient.Draft{}, bad
	}
	if in.ResourceType != "Patient" {
		bad.add("Patient.resourceType", "must be Patient")
	}
	if in.Active != nil && !*in.Active {
		bad.add("Patient.active", "must be true: a record is retired by deleting it")
	}
	d := patient.Draft{Gender: in.Gender, DateOfBirth: in.BirthDate}
	draftIdentifier(bad, in.Identifier, mrnSystem, &d)
	draftName(bad, in.Name, &d)
	draftTelecom(bad, in.Telecom, &d)
	draftAddress(bad, in.Address, &d)
	if len(bad.fields) > 0 {
		return Patient{}, patient.Draft{}, bad
	}
	return in, d, nil
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

func draftIdentifier(bad *inputError, ids []Identifier, mrnSystem string, d *patient.Draft) {
	for i, id := range ids {
		path := "Patient.identifier[" + strconv.Itoa(i) + "]"
		switch {
		case id.System != mrnSystem:
			bad.add(path+".system", "must be "+mrnSystem+": the medical record number is the one identifier stored")
		case len(id.Period) > 0 || len(id.Assigner) > 0:
			bad.add(path, "period and assigner are not stored")
		case d.MRN != "":
			bad.add(path, "only one medical record number is stored")
		default:
			d.MRN = id.Value
			if d.MRN == "" {
				bad.add(path+".value", "is required")
			}
		}
	}
}

func draftName(bad *inputError, names []HumanName, d *patient.Draft) {
	if len(names) > 1 {
		bad.add("Patient.name", "one name is stored; send one")
		return
	}
	if len(names) == 0 {
		return // Validate says the name is required
	}
	n := names[0]
	if len(n.Prefix) > 0 || len(n.Suffix) > 0 || len(n.Period) > 0 {
		bad.add("Patient.name[0]", "prefix, suffix and period are not stored")
	}
	d.Name, d.Family, d.Given = n.Text, n.Family, n.Given
}

func draftTelecom(bad *inputError, cps []ContactPoint, d *patient.Draft) {
	for i, cp := range cps {
		path := "Patient.telecom[" + strconv.Itoa(i) + "]"
		if len(cp.Period) > 0 {
			bad.add(path+".period", "is not stored")
			continue
		}
		switch cp.System {
		case "email":
			if d.Email != "" {
				bad.add(path, "one email address is stored")
			}
			d.Email = cp.Value
		case "phone":
			if d.Phone != "" {
				bad.add(path, "one phone number is stored")
			}
			d.Phone = cp.Value
		default:
			bad.add(path+".system", "must be email or phone")
		}
	}
}

// draftAddress keeps an address as its text: the text sent, or one
// written from its parts ("1 Main St, Springfield, IL 62701, US").
func draftAddress(bad *inputError, as []Address, d *patient.Draft) {
	if len(as) > 1 {
		bad.add("Patient.address", "one address is stored; send one")
		return
	}
	if len(as) == 0 {
		return
	}
	a := as[0]
	if len(a.Period) > 0 {
		bad.add("Patient.address[0].period", "is not stored")
	}
	if a.Text != "" {
		d.Address = a.Text
		return
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
	d.Address = strings.Join(kept, ", ")
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
