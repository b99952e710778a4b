package fhirapi

import (
	"encoding/json"
	"net/url"
	"strings"
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
	r := basePatient(p, sys)
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
	r = basePatient(p, sys)
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
	assert.JSONEq(t, `{"identifier":[{"system":"`+sys+`","value":"MRN-7","type":{"coding":[{"code":"MR"}]}}],
		"name":[{"use":"official","family":"López","given":["José"]}],
		"telecom":[{"system":"email","value":"jose@example.org","use":"home"},{"system":"phone","value":"+1 555 0100"}],
		"gender":"male","birthDate":"1980-05-12",
		"address":[{"line":["1 Main St","Apt 2"],"city":"Springfield","state":"IL","postalCode":"62701","country":"US"}]}`,
		string(d.More.Resource), "the resource is kept less its id, meta and narrative")
	d.More = patient.More{}
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
		{"elements R4 does not define", `{"resourceType":"Patient","shoeSize":44,"name":[{"text":"A","nickname":"B"}]}`, []string{"Patient.name[0].nickname", "Patient.shoeSize"}},
		{"another resource", `{"resourceType":"Observation"}`, []string{"Patient.resourceType"}},
		{"two medical record numbers", `{"resourceType":"Patient","identifier":[{"system":"` + sys + `","value":"1"},{"system":"` + sys + `","value":"2"}]}`, []string{"Patient.identifier[1]"}},
		{"an empty list", `{"resourceType":"Patient","name":[]}`, []string{"Patient.name"}},
		{"an empty string", `{"resourceType":"Patient","name":[{"family":""}]}`, []string{"Patient.name[0].family"}},
		{"a code outside its value set", `{"resourceType":"Patient","gender":"M","telecom":[{"system":"pigeon","value":"x"}]}`, []string{"Patient.gender", "Patient.telecom[0].system"}},
		{"an extension without its url", `{"resourceType":"Patient","extension":[{"valueString":"x"}]}`, []string{"Patient.extension[0].url"}},
		{"an extension with a value and extensions", `{"resourceType":"Patient","extension":[{"url":"urn:x","valueCode":"a","extension":[{"url":"b","valueCode":"c"}]}]}`, []string{"Patient.extension[0]"}},
		{"a value[x] of no type", `{"resourceType":"Patient","extension":[{"url":"urn:x","valueShoe":"a"}]}`, []string{"Patient.extension[0].valueShoe", "Patient.extension[0]"}},
		{"a communication without its language", `{"resourceType":"Patient","communication":[{"preferred":true}]}`, []string{"Patient.communication[0].language"}},
		{"a link of no known type", `{"resourceType":"Patient","link":[{"other":{"reference":"Patient/1"},"type":"sibling"}]}`, []string{"Patient.link[0].type"}},
		{"a malformed date", `{"resourceType":"Patient","birthDate":"12/05/1980"}`, []string{"Patient.birthDate"}},
		{"inactive", `{"resourceType":"Patient","active":false}`, []string{"Patient.active"}},
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
		{Any: []patient.TokenMatch{{Field: patient.TokenMRN, Value: "MRN-1"}, {Field: patient.TokenIdentifier, Value: "|MRN-2"},
			{Field: patient.TokenMRN, Value: "MRN-3"}, {Field: patient.TokenIdentifier, Value: "*|MRN-3"},
			{Field: patient.TokenIdentifier, Value: "urn:other|MRN-4"}}},
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

// A US Core Patient with what another system exports (identifiers of
// other systems, a maiden name, several phones and addresses, race,
// ethnicity and birth sex, a language, a contact) is kept whole: read
// back, it is what was sent, with its id and meta; a change through the
// JSON API shows in the elements the registry's fields come from.
func TestWholePatientRoundTrips(t *testing.T) {
	sent := `{"resourceType":"Patient",
		"extension":[
			{"url":"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race","extension":[
				{"url":"ombCategory","valueCoding":{"system":"urn:oid:2.16.840.1.113883.6.238","code":"2106-3","display":"White"}},
				{"url":"text","valueString":"White"}]},
			{"url":"http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity","extension":[
				{"url":"ombCategory","valueCoding":{"system":"urn:oid:2.16.840.1.113883.6.238","code":"2186-5","display":"Not Hispanic or Latino"}},
				{"url":"text","valueString":"Not Hispanic or Latino"}]},
			{"url":"http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex","valueCode":"F"}],
		"identifier":[
			{"use":"usual","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"system":"` + sys + `","value":"MRN-US-1"},
			{"system":"http://hl7.org/fhir/sid/us-ssn","value":"999-12-3456"},
			{"system":"urn:oid:1.2.36.146.595.217.0.1","value":"OTHER-77","period":{"start":"2001-05-06"}}],
		"active":true,
		"name":[
			{"use":"maiden","family":"Smith","given":["Mary"]},
			{"use":"official","family":"Jones","given":["Mary","Ann"],"prefix":["Mrs."],"period":{"start":"2010-06-01"}}],
		"telecom":[
			{"system":"phone","value":"+1 555 0100","use":"home"},
			{"system":"email","value":"mary.jones@example.org"},
			{"system":"phone","value":"+1 555 0199","use":"work","rank":2}],
		"gender":"female","birthDate":"1974-12-25",
		"_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1974-12-25T14:35:45-05:00"}]},
		"address":[
			{"use":"old","line":["9 Old Rd"],"city":"Boston","state":"MA","postalCode":"02101"},
			{"use":"home","line":["534 Erewhon St"],"city":"PleasantVille","district":"Rainbow","state":"Vic","postalCode":"3999","period":{"start":"1974-12-25"}}],
		"maritalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"M"}]},
		"multipleBirthInteger":1,
		"communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"en-US"}]},"preferred":true}],
		"contact":[{"relationship":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0131","code":"N"}]}],
			"name":{"family":"Jones","given":["Bob"]},"telecom":[{"system":"phone","value":"+1 555 0111"}]}]}`
	_, d, err := decodePatient([]byte(sent), sys)
	require.NoError(t, err)
	assert.Equal(t, "MRN-US-1", d.MRN)
	assert.Equal(t, "Jones", d.Family, "the official name is the registry's")
	assert.Equal(t, []string{"Mary", "Ann"}, d.Given)
	assert.Equal(t, "mary.jones@example.org", d.Email)
	assert.Equal(t, "+1 555 0100", d.Phone, "the first phone number")
	assert.Equal(t, "534 Erewhon St, PleasantVille, Rainbow, Vic 3999", d.Address, "the first address not marked old")
	assert.Subset(t, d.More.Identifiers, []string{"http://hl7.org/fhir/sid/us-ssn|999-12-3456", "*|999-12-3456", "urn:oid:1.2.36.146.595.217.0.1|other-77"})
	assert.Equal(t, []string{"f:Smith", "g:Mary"}, d.More.OtherNames)

	p, err := d.Validate(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	p.ID, p.Version, p.UpdatedAt = "6f1c4a50-0000-4000-8000-0000000000bb", 1, time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	want := map[string]any{}
	require.NoError(t, json.Unmarshal([]byte(sent), &want))
	want["id"] = p.ID
	want["meta"] = map[string]any{"versionId": "1", "lastUpdated": "2026-12-07T09:00:00.000Z"}
	got, err := json.Marshal(Resource(p, sys))
	require.NoError(t, err)
	wantJSON, _ := json.Marshal(want)
	assert.JSONEq(t, string(wantJSON), string(got), "read back whole")
	assert.True(t, strings.HasPrefix(string(got), `{"resourceType":"Patient","id":`), "resourceType first")

	// Through the JSON API: a new name, address and no phone.
	p.Name, p.Family, p.Given, p.Address, p.Phone = "Mary Brown", "Brown", []string{"Mary"}, "1 New St, Boston", ""
	got, err = json.Marshal(Resource(p, sys))
	require.NoError(t, err)
	var r struct {
		Name    []map[string]any
		Address []map[string]any
		Telecom []map[string]any
	}
	require.NoError(t, json.Unmarshal(got, &r))
	require.Len(t, r.Name, 2)
	assert.Equal(t, "Smith", r.Name[0]["family"], "the maiden name stays")
	assert.Equal(t, "Brown", r.Name[1]["family"])
	assert.Equal(t, "official", r.Name[1]["use"])
	assert.Nil(t, r.Name[1]["prefix"], "the old name's prefix went with it")
	assert.Equal(t, map[string]any{"use": "home", "text": "1 New St, Boston"}, r.Address[1])
	assert.Equal(t, "9 Old Rd", r.Address[0]["line"].([]any)[0])
	assert.Len(t, r.Telecom, 2, "the first phone is gone, the work one stays")
}
