package patient

import (
	"strings"
	"time"
)

// The filters below are the criteria of a FHIR search (fhirapi builds
// them), kept in Query beside the JSON API's simpler fields. Every filter
// of a Query must match; the alternatives inside one filter are OR'ed, as a
// FHIR parameter's comma-separated values are.

// StringField is a name a string filter compares.
type StringField int

// String fields: the whole name (its text or any of its parts), the family
// name, a given name.
const (
	FieldName StringField = iota
	FieldFamily
	FieldGiven
)

// StringMode is how a string filter compares.
type StringMode int

// String modes: FHIR's default (the folded value starts with the folded
// text), :contains (contains it, folded) and :exact (equal, as written).
const (
	MatchPrefix StringMode = iota
	MatchContains
	MatchExact
)

// StringFilter matches when the field matches any of Values.
type StringFilter struct {
	Field  StringField
	Mode   StringMode
	Values []string
}

// TokenField is a coded or identifying value a token filter compares.
type TokenField int

// Token fields.
const (
	TokenID TokenField = iota
	TokenMRN
	TokenEmail
	TokenPhone
	TokenGender
	// TokenIdentifier compares the keys of identifiers of other systems
	// (More.Identifiers): Value is one of IdentifierKeys.
	TokenIdentifier
)

// TokenMatch is one alternative of a token filter: Field equals Value
// (case-insensitively), or, with AnyValue, Field is present.
type TokenMatch struct {
	Field    TokenField
	Value    string
	AnyValue bool
}

// TokenFilter matches when any alternative does; with none it matches
// nothing (an identifier of another system, say).
type TokenFilter struct {
	Any []TokenMatch
}

// Pinpoints tells whether every alternative names a record by a value of
// its own (an id, MRN, email or phone), so the filter matches a few
// records at most; a filter with no alternative matches none.
func (f TokenFilter) Pinpoints() bool {
	for _, m := range f.Any {
		if m.AnyValue || m.Field == TokenGender || (m.Field == TokenIdentifier && strings.HasSuffix(m.Value, "|")) {
			return false // a system's every identifier is no pinpoint
		}
	}
	return true
}

// DateField is a date or instant a date filter compares.
type DateField int

// Date fields: the date of birth (a whole day) and the last update (an
// instant, compared at millisecond precision).
const (
	DateBirth DateField = iota
	DateLastUpdated
)

// DatePrefix is how a date filter compares, as FHIR's search prefixes.
type DatePrefix string

// Date prefixes.
const (
	DateEq DatePrefix = "eq"
	DateNe DatePrefix = "ne"
	DateLt DatePrefix = "lt"
	DateLe DatePrefix = "le"
	DateGt DatePrefix = "gt"
	DateGe DatePrefix = "ge"
)

// DateRange is one alternative of a date filter: the period a search value
// names (2026 is all of that year), both ends included, at millisecond
// precision. FHIR's meaning of each prefix, for a target period T:
//
//	eq  T lies within the range       ne  it does not
//	gt  T ends after the range        lt  T starts before the range
//	ge  gt or eq                      le  lt or eq
type DateRange struct {
	Prefix     DatePrefix
	Start, End time.Time
}

// DateFilter matches when any alternative does.
type DateFilter struct {
	Field DateField
	Any   []DateRange
}

// NamePartsOf is p's family and given names: those recorded, or, for a
// record registered without parts, those NameParts takes from its name.
func NamePartsOf(p Patient) (family string, given []string) {
	if p.Family != "" || len(p.Given) > 0 {
		return p.Family, p.Given
	}
	return NameParts(p.Name)
}

// describeFilters says what a FHIR search asked for, for the audit trail.
func (q Query) describeFilters() []string {
	var parts []string
	names := map[StringField]string{FieldName: "name", FieldFamily: "family", FieldGiven: "given"}
	modes := map[StringMode]string{MatchPrefix: "", MatchContains: ":contains", MatchExact: ":exact"}
	for _, f := range q.Strings {
		parts = append(parts, names[f.Field]+modes[f.Mode]+"="+strings.Join(f.Values, ","))
	}
	tokens := map[TokenField]string{TokenID: "_id", TokenMRN: "mrn", TokenEmail: "email", TokenPhone: "phone", TokenGender: "gender"}
	for _, f := range q.Tokens {
		var alts []string
		for _, m := range f.Any {
			v := m.Value
			if m.AnyValue {
				v = "*"
			}
			alts = append(alts, tokens[m.Field]+"="+v)
		}
		if len(alts) == 0 {
			alts = []string{"(nothing)"}
		}
		parts = append(parts, strings.Join(alts, "|"))
	}
	dates := map[DateField]string{DateBirth: "birthdate", DateLastUpdated: "_lastUpdated"}
	for _, f := range q.Dates {
		var alts []string
		for _, r := range f.Any {
			alts = append(alts, string(r.Prefix)+r.Start.Format(time.RFC3339Nano)+".."+r.End.Format(time.RFC3339Nano))
		}
		parts = append(parts, dates[f.Field]+"="+strings.Join(alts, ","))
	}
	return parts
}
