package fhirapi

import (
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/validation"
)

// Search paging.
const (
	DefaultCount = 20
	MaxCount     = 100
	// cursorParam carries the position of the next page in a next link.
	cursorParam = "_cursor"
)

// Param is one search parameter the server supports, as the
// CapabilityStatement lists it.
type Param struct {
	Name, Type, Definition, Doc string
}

// Params are the Patient search parameters, in the CapabilityStatement's
// order.
var Params = []Param{
	{"_id", "token", "http://hl7.org/fhir/SearchParameter/Resource-id", "The patient's id."},
	{"_lastUpdated", "date", "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated", "When the record last changed (eq, ne, lt, le, gt, ge; partial dates)."},
	{"identifier", "token", "http://hl7.org/fhir/SearchParameter/Patient-identifier", "Any identifier, the medical record number and those of other systems: system|value, value, or system|."},
	{"name", "string", "http://hl7.org/fhir/SearchParameter/Patient-name", "The name as written or any of its parts; starts with, case and accents ignored (:contains, :exact)."},
	{"family", "string", "http://hl7.org/fhir/SearchParameter/individual-family", "The family name; starts with, case and accents ignored (:contains, :exact)."},
	{"given", "string", "http://hl7.org/fhir/SearchParameter/individual-given", "A given name; starts with, case and accents ignored (:contains, :exact)."},
	{"birthdate", "date", "http://hl7.org/fhir/SearchParameter/individual-birthdate", "The date of birth (eq, ne, lt, le, gt, ge; partial dates)."},
	{"gender", "token", "http://hl7.org/fhir/SearchParameter/individual-gender", "male, female, other or unknown (a record without a gender is unknown)."},
	{"email", "token", "http://hl7.org/fhir/SearchParameter/individual-email", "The email address, case ignored."},
	{"phone", "token", "http://hl7.org/fhir/SearchParameter/individual-phone", "The phone number as recorded."},
	{"telecom", "token", "http://hl7.org/fhir/SearchParameter/individual-telecom", "The email address or phone number (email|… or phone|… for one of them)."},
}

// searchError is a search the server cannot run, naming the parameter.
type searchError struct{ param, message string }

func (e *searchError) Error() string { return e.param + ": " + e.message }

// search is a parsed FHIR search: the domain query and the parameters it
// used, for the self and next links.
type search struct {
	query patient.Query
	used  url.Values
}

// parseSearch reads a Patient search from params. Parameters the server
// does not know are left out (and of the links), or refused when strict
// (Prefer: handling=strict); a known parameter with a modifier it does not
// support is always refused, as FHIR requires.
func parseSearch(params url.Values, mrnSystem string, strict bool) (search, error) {
	s := search{query: patient.Query{Limit: DefaultCount}, used: url.Values{}}
	for _, key := range sortedKeys(params) {
		name, modifier, _ := strings.Cut(key, ":")
		if name == "_format" {
			continue // content negotiation reads it
		}
		for _, raw := range params[key] {
			if validation.Unstorable(raw) || validation.Unstorable(key) {
				return search{}, &searchError{key, "must be valid UTF-8 without NUL characters"}
			}
			if raw == "" {
				continue // an empty parameter is ignored
			}
			used, err := s.add(name, modifier, raw, mrnSystem)
			if err != nil {
				return search{}, err
			}
			if !used {
				if strict {
					return search{}, &searchError{key, "is not a search parameter of this server (see /fhir/R4/metadata)"}
				}
				continue
			}
			if name != "_count" { // set once below, as it was applied
				s.used.Add(key, raw)
			}
		}
	}
	s.used.Set("_count", strconv.Itoa(s.query.Limit))
	return s, nil
}

func sortedKeys(v url.Values) []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// add applies one parameter; used is false for a parameter the server does
// not know (and for _format, handled by content negotiation).
func (s *search) add(name, modifier, raw, mrnSystem string) (used bool, err error) {
	noModifier := func() error {
		if modifier != "" {
			return &searchError{name + ":" + modifier, "this modifier is not supported"}
		}
		return nil
	}
	q := &s.query
	switch name {
	case "_count":
		if err := noModifier(); err != nil {
			return false, err
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			return false, &searchError{"_count", "must be a whole number of 1 or more"}
		}
		q.Limit = min(n, MaxCount)
	case cursorParam:
		c, err := patient.DecodeCursor(raw)
		if err != nil {
			return false, &searchError{cursorParam, "is not a cursor this server returned"}
		}
		q.After = &c
	case "name", "family", "given":
		mode := map[string]patient.StringMode{"": patient.MatchPrefix, "contains": patient.MatchContains, "exact": patient.MatchExact}
		m, ok := mode[modifier]
		if !ok {
			return false, &searchError{name + ":" + modifier, "this modifier is not supported (:contains and :exact are)"}
		}
		field := map[string]patient.StringField{"name": patient.FieldName, "family": patient.FieldFamily, "given": patient.FieldGiven}[name]
		values := splitComma(raw)
		for _, v := range values {
			if len([]rune(v)) > patient.MaxNameLen {
				return false, &searchError{name, "must be at most 200 characters"}
			}
		}
		q.Strings = append(q.Strings, patient.StringFilter{Field: field, Mode: m, Values: values})
	case "_id", "identifier", "gender", "email", "phone", "telecom":
		if err := noModifier(); err != nil {
			return false, err
		}
		q.Tokens = append(q.Tokens, tokenFilter(name, splitComma(raw), mrnSystem))
	case "birthdate", "_lastUpdated":
		if err := noModifier(); err != nil {
			return false, err
		}
		field := patient.DateBirth
		if name == "_lastUpdated" {
			field = patient.DateLastUpdated
		}
		f := patient.DateFilter{Field: field}
		for _, v := range splitComma(raw) {
			r, err := parseDateRange(v)
			if err != nil {
				return false, &searchError{name, err.Error()}
			}
			f.Any = append(f.Any, r)
		}
		q.Dates = append(q.Dates, f)
	default:
		return false, nil
	}
	return true, nil
}

// tokenFilter reads token values: code, system|code, |code (no system) or
// system| (any code of the system).
func tokenFilter(name string, values []string, mrnSystem string) patient.TokenFilter {
	var f patient.TokenFilter
	for _, v := range values {
		system, code, hasSystem := strings.Cut(v, "|")
		if !hasSystem {
			system, code = "", v
		}
		// "|code" names a value without a system: only an identifier of
		// another system may have none; for anything else that alternative
		// matches nothing.
		if hasSystem && system == "" {
			if name == "identifier" && code != "" {
				f.Any = append(f.Any, patient.TokenMatch{Field: patient.TokenIdentifier, Value: "|" + code})
			}
			continue
		}
		add := func(field patient.TokenField) {
			f.Any = append(f.Any, patient.TokenMatch{Field: field, Value: code, AnyValue: code == ""})
		}
		switch name {
		case "_id":
			if !hasSystem {
				add(patient.TokenID)
			}
		case "identifier":
			if !hasSystem || strings.EqualFold(system, mrnSystem) {
				add(patient.TokenMRN)
			}
			// Identifiers of other systems, by their keys
			// (patient.IdentifierKeys): system|value, system| or *|value.
			switch {
			case !hasSystem:
				f.Any = append(f.Any, patient.TokenMatch{Field: patient.TokenIdentifier, Value: "*|" + code})
			case !strings.EqualFold(system, mrnSystem):
				f.Any = append(f.Any, patient.TokenMatch{Field: patient.TokenIdentifier, Value: system + "|" + code})
			}
		case "gender":
			if !hasSystem || system == "http://hl7.org/fhir/administrative-gender" {
				add(patient.TokenGender)
			}
		case "email", "phone":
			if !hasSystem || strings.EqualFold(system, name) {
				add(map[string]patient.TokenField{"email": patient.TokenEmail, "phone": patient.TokenPhone}[name])
			}
		case "telecom":
			if !hasSystem || strings.EqualFold(system, "email") {
				add(patient.TokenEmail)
			}
			if !hasSystem || strings.EqualFold(system, "phone") {
				add(patient.TokenPhone)
			}
		}
	}
	return f
}

// splitComma splits a parameter's alternatives at commas; "\," is a comma
// inside a value.
func splitComma(raw string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(raw); i++ {
		switch {
		case raw[i] == '\\' && i+1 < len(raw) && (raw[i+1] == ',' || raw[i+1] == '\\'):
			cur.WriteByte(raw[i+1])
			i++
		case raw[i] == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(raw[i])
		}
	}
	return append(out, cur.String())
}

var dateValue = regexp.MustCompile(`^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$`)

// parseDateRange reads a date search value: a prefix (eq when none) and a
// date of any FHIR precision, which names the whole period it covers.
func parseDateRange(v string) (patient.DateRange, error) {
	r := patient.DateRange{Prefix: patient.DateEq}
	if len(v) >= 2 && v[0] >= 'a' && v[0] <= 'z' {
		switch p := patient.DatePrefix(v[:2]); p {
		case patient.DateEq, patient.DateNe, patient.DateLt, patient.DateLe, patient.DateGt, patient.DateGe:
			r.Prefix, v = p, v[2:]
		default:
			return r, &dateError{"the prefix " + v[:2] + " is not supported (eq, ne, lt, le, gt, ge are)"}
		}
	}
	m := dateValue.FindStringSubmatch(v)
	if m == nil {
		return r, &dateError{"must be a date like 2024, 2024-05, 2024-05-17 or 2024-05-17T10:30:00Z, after an optional prefix"}
	}
	num := func(s string, def int) int {
		if s == "" {
			return def
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	loc := time.UTC
	if tz := m[8]; tz != "" && tz != "Z" {
		t, err := time.Parse("-07:00", tz)
		if err != nil {
			return r, &dateError{"has an invalid time zone"}
		}
		loc = t.Location()
	}
	year, month, dayN := num(m[1], 0), num(m[2], 1), num(m[3], 1)
	hour, minute, sec := num(m[4], 0), num(m[5], 0), num(m[6], 0)
	frac := m[7]
	nanos := 0
	if frac != "" {
		nanos = num((frac + "000000000")[:9], 0)
	}
	start := time.Date(year, time.Month(month), dayN, hour, minute, sec, nanos, loc)
	if start.Year() != year || int(start.Month()) != month || start.Day() != dayN || hour > 23 || minute > 59 || sec > 59 {
		return r, &dateError{"is not a real date and time"}
	}
	var end time.Time
	switch {
	case m[2] == "":
		end = start.AddDate(1, 0, 0)
	case m[3] == "":
		end = start.AddDate(0, 1, 0)
	case m[4] == "":
		end = start.AddDate(0, 0, 1)
	case m[6] == "":
		end = start.Add(time.Minute)
	case frac == "":
		end = start.Add(time.Second)
	case len(frac) < 3:
		step := time.Duration(1)
		for range 9 - len(frac) {
			step *= 10
		}
		end = start.Add(step)
	default:
		start = start.Truncate(time.Millisecond)
		end = start.Add(time.Millisecond)
	}
	r.Start, r.End = start.UTC(), end.Add(-time.Millisecond).UTC()
	return r, nil
}

type dateError struct{ msg string }

func (e *dateError) Error() string { return e.msg }
