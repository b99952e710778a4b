package fhirapi

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
)

// Resource is p as a FHIR Patient: its registry fields (basePatient) or,
// for a patient a FHIR client wrote, the resource as that client sent it
// (patient.More) with the registry's fields written over the elements
// they came from, so a change made through the JSON API shows: the
// medical record number, the primary name (replaced when the JSON API
// renamed the patient), the first email and phone, the primary address
// (replaced when its text changed), gender and birth date.
func Resource(p patient.Patient, mrnSystem string) any {
	base := basePatient(p, mrnSystem)
	if len(p.More.Resource) == 0 {
		return base
	}
	dec := json.NewDecoder(bytes.NewReader(p.More.Resource))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return base // not reached: decodePatient stored it
	}
	m["identifier"] = withMRN(m["identifier"], base, mrnSystem)
	m["name"] = withName(m["name"], base, p)
	m["telecom"] = withTelecom(m["telecom"], p)
	m["address"] = withAddress(m["address"], p)
	m["gender"], m["birthDate"] = base.Gender, base.BirthDate
	return ordered(m, base)
}

// withMRN sets the value of the MRN identifier, or adds it first.
func withMRN(v any, base Patient, mrnSystem string) []any {
	list, _ := v.([]any)
	for _, x := range list {
		if id, ok := x.(map[string]any); ok && id["system"] == mrnSystem {
			id["value"] = base.Identifier[0].Value
			return list
		}
	}
	return append([]any{asMap(base.Identifier[0])}, list...)
}

// withName keeps the primary name as sent while it is the patient's name,
// and replaces it (keeping its use) when the JSON API renamed the patient.
func withName(v any, base Patient, p patient.Patient) []any {
	list, _ := v.([]any)
	var names []HumanName
	remarshal(list, &names)
	i := primaryName(names)
	if i < 0 || i >= len(list) {
		return append([]any{asMap(base.Name[0])}, list...)
	}
	n := names[i]
	text := n.Text
	if text == "" {
		text = strings.TrimSpace(strings.Join(append(append([]string(nil), n.Given...), n.Family), " "))
	}
	family, given := patient.NamePartsOf(p)
	if text == p.Name && n.Family == family && strings.Join(n.Given, "\x00") == strings.Join(given, "\x00") {
		return list
	}
	renamed := base.Name[0]
	if n.Use != "" {
		renamed.Use = n.Use
	}
	list[i] = asMap(renamed)
	return list
}

// withTelecom sets the first email and phone number to the registry's,
// adding or removing the phone number as the registry has one or not.
func withTelecom(v any, p patient.Patient) []any {
	list, _ := v.([]any)
	email, phone := -1, -1
	for i, x := range list {
		cp, _ := x.(map[string]any)
		switch {
		case cp["system"] == "email" && email < 0:
			email = i
		case cp["system"] == "phone" && phone < 0:
			phone = i
		}
	}
	if email >= 0 {
		list[email].(map[string]any)["value"] = p.Email
	} else {
		list = append([]any{map[string]any{"system": "email", "value": p.Email}}, list...)
		if phone >= 0 {
			phone++
		}
	}
	switch {
	case phone >= 0 && p.Phone == "":
		list = append(list[:phone], list[phone+1:]...)
	case phone >= 0:
		list[phone].(map[string]any)["value"] = p.Phone
	case p.Phone != "":
		list = append(list, map[string]any{"system": "phone", "value": p.Phone})
	}
	return list
}

// withAddress keeps the primary address as sent while its text is the
// registry's, and replaces it (keeping its use and type) when the JSON
// API changed it.
func withAddress(v any, p patient.Patient) []any {
	list, _ := v.([]any)
	var as []Address
	remarshal(list, &as)
	i := primaryAddress(as)
	if i < 0 || i >= len(list) {
		return append([]any{map[string]any{"text": p.Address}}, list...)
	}
	if addressText(as[i]) == p.Address {
		return list
	}
	moved := map[string]any{"text": p.Address}
	if as[i].Use != "" {
		moved["use"] = as[i].Use
	}
	if as[i].Type != "" {
		moved["type"] = as[i].Type
	}
	list[i] = moved
	return list
}

// asMap is v as a JSON object.
func asMap(v any) map[string]any {
	var m map[string]any
	remarshal(v, &m)
	return m
}

// remarshal decodes what v encodes to into dst.
func remarshal(v, dst any) {
	b, err := json.Marshal(v)
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		_ = dec.Decode(dst)
	}
}

// ordered is m as a resource's JSON: resourceType, id and meta first, then
// every other element in name order.
func ordered(m map[string]any, base Patient) json.RawMessage {
	delete(m, "resourceType")
	delete(m, "id")
	delete(m, "meta")
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.WriteString(`{"resourceType":"Patient","id":`)
	buf.Write(canonical(base.ID))
	buf.WriteString(`,"meta":`)
	buf.Write(canonical(base.Meta))
	for _, k := range keys {
		buf.WriteByte(',')
		buf.Write(canonical(k))
		buf.WriteByte(':')
		buf.Write(canonical(m[k]))
	}
	buf.WriteByte('}')
	return buf.Bytes()
}
