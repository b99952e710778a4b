package fhirapi

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
)

const sys = "http://hospital.example.org/mrn"

func TestResourceMapsEveryStoredField(t *testing.T) {
	p := patient.Patient{ID: "6f1c4a50-0000-4000-8000-0000000000aa", Name: "Ana María López", Email: "ana@example.org",
		Phone: "+34 600 000 000", Address: "Calle 1, Madrid", MRN: "MRN-1",
		DateOfBirth: time.Date(1980, 5, 12, 0, 0, 0, 0, time.UTC), Version: 3,
		UpdatedAt: time.Date(2026, 12, 3, 10, 0, 0, 123456000, time.UTC)}
	r := Resource(p, sys)
	assert.Equal(t, "3", r.Meta.VersionID)
	assert.Equal(t, "2026-12-03T10:00:00.123Z", r.Meta.LastUpdated, "instants at millisecond precision")
	assert.Equal(t, []Identifier{{Use: "usual", Type: MRType, System: sys, Value: "MRN-1"}}, r.Identifier)
	assert.Equal(t, []HumanName{{Use: "official", Text: "Ana María López", Family: "López", Given: []string{"Ana", "María"}}}, r.Name,
		"a name written as one text gets its parts from it")
	assert.Equal(t, []ContactPoint{{System: "email", Value: "ana@example.org"}, {System: "phone", Value: "+34 600 000 000"}}, r.Telecom)
	assert.Equal(t, "unknown", r.Gender, "no gender recorded is FHIR's unknown")
	assert.Equal(t, "1980-05-12", r.BirthDate)
	assert.Equal(t, []Address{{Text: "Calle 1, Madrid"}}, r.Address)

	p.Family, p.Given, p.Gender = "van der Berg", []string{"Mary", "Ann"}, "female"
	r = Resource(p, sys)
	assert.Equal(t, "van der Berg", r.Name[0].Family, "recorded parts are kept as sent")
	assert.Equal(t, []string{"Mary", "Ann"}, r.Name[0].Given)
	assert.Equal(t, "female", r.Gender)
}

func TestDecodePatient(t *testing.T) {
	body := `{"resourceType":"Patient","meta":{"versionId":"9"},"text":{"status":"generated","div":"<div/>"},
		"identifier":[{"system":"` + sys + `","value":"MRN-7","type":{"coding":[{"code":"MR"}]}}],
		"name":[{"use":"official","family":"López","given":["José"]}],
		"telecom":[{"system":"email","value":"jose@example.org","use":"home"},{"system":"phone","value":"+1 555 0100"}],
		"gender":"male","birthDate":"1980-05-12",
		"address":[{"line":["1 Main St","Apt 2"],"city":"Springfield","state":"IL","postalCode":"62701","country":"US"}]}`
	_, d, err := decodePatient([]byte(body), sys)
	require.NoError(t, err)
	assert.Equal(t, patient.Draft{Family: "López", Given: []string{"José"}, Email: "jose@example.org", Phone: "+1 555 0100",
		Gender: "male", DateOfBirth: "1980-05-12", MRN: "MRN-7",
		Address: "1 Main St, Apt 2, Springfield, IL 62701, US"}, d)
	p, err := d.Validate(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	assert.Equal(t, "José López", p.Name, "the text is written from the parts when none is sent")

	for _, c := range []struct {
		name, body string
		want       []string
	}{
		{"unknown elements", `{"resourceType":"Patient","maritalStatus":{},"contact":[]}`, []string{"Patient.contact", "Patient.maritalStatus"}},
		{"another resource", `{"resourceType":"Observation"}`, []string{"Patient.resourceType"}},
		{"another identifier system", `{"resourceType":"Patient","identifier":[{"system":"urn:x","value":"1"}]}`, []string{"Patient.identifier[0].system"}},
		{"two names", `{"resourceType":"Patient","name":[{"text":"A"},{"text":"B"}]}`, []string{"Patient.name"}},
		{"a name prefix", `{"resourceType":"Patient","name":[{"text":"A","prefix":["Dr"]}]}`, []string{"Patient.name[0]"}},
		{"a fax number", `{"resourceType":"Patient","telecom":[{"system":"fax","value":"1"}]}`, []string{"Patient.telecom[0].system"}},
		{"two emails", `{"resourceType":"Patient","telecom":[{"system":"email","value":"a@x.org"},{"system":"email","value":"b@x.org"}]}`, []string{"Patient.telecom[1]"}},
		{"inactive", `{"resourceType":"Patient","active":false}`, []string{"Patient.active"}},
		{"a nested element not stored", `{"resourceType":"Patient","name":[{"text":"A","extension":[]}]}`, []string{"Patient"}},
		{"not JSON", `[`, []string{"Patient"}},
		{"a number for a date", `{"resourceType":"Patient","birthDate":19800102}`, []string{"Patient.birthDate"}},
		{"a string for a boolean", `{"resourceType":"Patient","active":"true"}`, []string{"Patient.active"}},
		{"an object for a list", `{"resourceType":"Patient","name":{"text":"A"}}`, []string{"Patient.name"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := decodePatient([]byte(c.body), sys)
			status, issues, ok := outcomeOf(err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, 400, status)
			var got []string
			for _, f := range issues {
				got = append(got, f.expression)
			}
			assert.Equal(t, c.want, got)
		})
	}
}

// A value of the wrong JSON type is named by the type the element takes,
// then the one sent.
func TestWrongTypesSayWhatTheElementTakes(t *testing.T) {
	for body, want := range map[string]string{
		`{"resourceType":"Patient","birthDate":19800102}`: "must be a JSON string, not a number",
		`{"resourceType":"Patient","active":"yes"}`:       "must be a JSON boolean, not a string",
		`{"resourceType":"Patient","name":{"text":"A"}}`:  "must be a JSON array, not an object",
		`{"resourceType":"Patient","name":["A"]}`:         "must be a JSON object, not a string",
	} {
		_, _, err := decodePatient([]byte(body), "urn:mrn")
		_, issues, ok := outcomeOf(err)
		require.True(t, ok, body)
		require.Len(t, issues, 1, body)
		assert.Equal(t, want, issues[0].message, body)
	}
}

func TestDomainFieldsBecomeFHIRPaths(t *testing.T) {
	_, err := patient.Draft{Given: []string{""}, Email: "nope", DateOfBirth: "1980-13-01"}.Validate(time.Now())
	_, issues, ok := outcomeOf(err)
	require.True(t, ok)
	var got []string
	for _, f := range issues {
		got = append(got, f.expression)
	}
	assert.ElementsMatch(t, []string{"Patient.name[0].given[0]", "Patient.name[0]", "Patient.address[0]",
		"Patient.telecom.where(system='email')", "Patient.birthDate"}, got)
}

func TestParseSearch(t *testing.T) {
	q := url.Values{
		"family":        {"lopez,garc\\,ia"},
		"given:exact":   {"José"},
		"name:contains": {"ar"},
		"birthdate":     {"ge1980", "lt1990-06"},
		"gender":        {"male,http://hl7.org/fhir/administrative-gender|other,urn:x|female"},
		"identifier":    {sys + "|MRN-1,|MRN-2,MRN-3,urn:other|MRN-4"},
		"telecom":       {"email|a@x.org,+1 555"},
		"_count":        {"500"},
		"shoe-size":     {"44"},
		"email":         {""},
	}
	s, err := parseSearch(q, sys, false)
	require.NoError(t, err)
	assert.Equal(t, MaxCount, s.query.Limit, "_count is capped")
	assert.Equal(t, url.Values{"family": {"lopez,garc\\,ia"}, "given:exact": {"José"}, "name:contains": {"ar"},
		"birthdate": {"ge1980", "lt1990-06"}, "gender": q["gender"], "identifier": q["identifier"], "telecom": q["telecom"],
		"_count": {"100"}}, s.used, "self names what was used: not the unknown or empty parameters")
	assert.ElementsMatch(t, []patient.StringFilter{
		{Field: patient.FieldFamily, Mode: patient.MatchPrefix, Values: []string{"lopez", "garc,ia"}},
		{Field: patient.FieldGiven, Mode: patient.MatchExact, Values: []string{"José"}},
		{Field: patient.FieldName, Mode: patient.MatchContains, Values: []string{"ar"}},
	}, s.query.Strings)
	require.Len(t, s.query.Dates, 2, "a repeated parameter is two criteria (AND)")
	assert.ElementsMatch(t, []patient.TokenFilter{
		{Any: []patient.TokenMatch{{Field: patient.TokenGender, Value: "male"}, {Field: patient.TokenGender, Value: "other"}}},
		{Any: []patient.TokenMatch{{Field: patient.TokenMRN, Value: "MRN-1"}, {Field: patient.TokenMRN, Value: "MRN-3"}}},
		{Any: []patient.TokenMatch{{Field: patient.TokenEmail, Value: "a@x.org"}, {Field: patient.TokenEmail, Value: "+1 555"}, {Field: patient.TokenPhone, Value: "+1 555"}}},
	}, s.query.Tokens)

	_, err = parseSearch(q, sys, true)
	assert.EqualError(t, err, "shoe-size: is not a search parameter of this server (see /fhir/R4/metadata)")
	for _, bad := range []url.Values{
		{"family:missing": {"true"}},
		{"gender:not": {"male"}},
		{"birthdate": {"sa2020"}},
		{"birthdate": {"2020-02-30"}},
		{"_lastUpdated": {"yesterday"}},
		{"_count": {"0"}},
		{"_cursor": {"nope"}},
		{"name": {"a\x00b"}},
	} {
		_, err := parseSearch(bad, sys, false)
		assert.Error(t, err, "%v", bad)
	}
}

func TestDateRanges(t *testing.T) {
	utc := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	for _, c := range []struct {
		in         string
		prefix     patient.DatePrefix
		start, end string
	}{
		{"2024", patient.DateEq, "2024-01-01T00:00:00Z", "2024-12-31T23:59:59.999Z"},
		{"ge2024-02", patient.DateGe, "2024-02-01T00:00:00Z", "2024-02-29T23:59:59.999Z"},
		{"lt2024-05-17", patient.DateLt, "2024-05-17T00:00:00Z", "2024-05-17T23:59:59.999Z"},
		{"2024-05-17T10:30", patient.DateEq, "2024-05-17T10:30:00Z", "2024-05-17T10:30:59.999Z"},
		{"2024-05-17T10:30:00+02:00", patient.DateEq, "2024-05-17T08:30:00Z", "2024-05-17T08:30:00.999Z"},
		{"2024-05-17T10:30:00.5Z", patient.DateEq, "2024-05-17T10:30:00.5Z", "2024-05-17T10:30:00.599Z"},
		{"ne2024-05-17T10:30:00.123456Z", patient.DateNe, "2024-05-17T10:30:00.123Z", "2024-05-17T10:30:00.123Z"},
	} {
		r, err := parseDateRange(c.in)
		require.NoError(t, err, c.in)
		assert.Equal(t, patient.DateRange{Prefix: c.prefix, Start: utc(c.start), End: utc(c.end)}, r, c.in)
	}
}

func TestConditionalSearchRefusesWhatWouldWidenIt(t *testing.T) {
	s, err := conditionalSearch("identifier="+url.QueryEscape(sys+"|MRN-1"), sys)
	require.NoError(t, err)
	assert.Equal(t, "identifier="+url.QueryEscape(sys+"|MRN-1"), s.used.Encode(), "the criteria, canonical, are the lock's key")
	for _, bad := range []string{"", "shoe-size=44", "_count=1", "identifier=", "%zz"} {
		_, err := conditionalSearch(bad, sys)
		assert.Error(t, err, bad)
	}
}

func TestCapabilityStatementListsEverySearchParameter(t *testing.T) {
	b, err := json.Marshal(capability("https://pms.example.org/fhir/R4"))
	require.NoError(t, err)
	var cs struct {
		Kind, FHIRVersion string
		Rest              []struct {
			Resource []struct {
				Type, Versioning  string
				ConditionalCreate bool
				SearchParam       []struct{ Name string }
			}
		}
	}
	require.NoError(t, json.Unmarshal(b, &cs))
	assert.Equal(t, "4.0.1", cs.FHIRVersion)
	res := cs.Rest[0].Resource[0]
	assert.Equal(t, "versioned-update", res.Versioning)
	assert.True(t, res.ConditionalCreate)
	var names []string
	for _, p := range res.SearchParam {
		names = append(names, p.Name)
	}
	s, err := parseSearch(url.Values{}, sys, true)
	require.NoError(t, err)
	for _, n := range names {
		v := "x"
		if n == "birthdate" || n == "_lastUpdated" {
			v = "2024"
		}
		_, err := s.add(n, "", v, sys)
		assert.NoError(t, err, "%s is listed and parsed", n)
	}
	assert.Len(t, names, 11)
}

func TestCheckConfig(t *testing.T) {
	assert.NoError(t, CheckConfig("", sys))
	assert.NoError(t, CheckConfig("https://pms.example.org/fhir/R4", "urn:oid:1.2.3"))
	assert.Error(t, CheckConfig("https://pms.example.org/fhir/R4/", sys))
	assert.Error(t, CheckConfig("pms.example.org", sys))
	assert.Error(t, CheckConfig("", "mrn"))
}
