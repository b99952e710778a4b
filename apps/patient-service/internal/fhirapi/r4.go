package fhirapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The shape of an R4 Patient (http://hl7.org/fhir/R4/patient.html) and of
// the data types it uses, as a table the validator walks: every element
// with its type and whether it repeats, the elements that are required,
// and the codes of each required binding. A Patient is refused only for
// what R4 itself refuses: an element it does not define, a value of the
// wrong type or format, an empty value, a missing required element, a
// code outside its required value set, or an extension with both or
// neither of a value and nested extensions.

type elementDef struct {
	typ      string
	many     bool
	required bool
}

// r4Types are the complex types a Patient holds, by element.
var r4Types = map[string]map[string]elementDef{
	"Patient": {
		"resourceType": {typ: "code"}, "id": {typ: "id"}, "meta": {typ: "Meta"}, "implicitRules": {typ: "uri"},
		"language": {typ: "code"}, "text": {typ: "Narrative"}, "contained": {typ: "Resource", many: true},
		"extension": {typ: "Extension", many: true}, "modifierExtension": {typ: "Extension", many: true},
		"identifier": {typ: "Identifier", many: true}, "active": {typ: "boolean"}, "name": {typ: "HumanName", many: true},
		"telecom": {typ: "ContactPoint", many: true}, "gender": {typ: "code"}, "birthDate": {typ: "date"},
		"deceasedBoolean": {typ: "boolean"}, "deceasedDateTime": {typ: "dateTime"}, "address": {typ: "Address", many: true},
		"maritalStatus": {typ: "CodeableConcept"}, "multipleBirthBoolean": {typ: "boolean"},
		"multipleBirthInteger": {typ: "integer"}, "photo": {typ: "Attachment", many: true},
		"contact": {typ: "Patient.contact", many: true}, "communication": {typ: "Patient.communication", many: true},
		"generalPractitioner": {typ: "Reference", many: true}, "managingOrganization": {typ: "Reference"},
		"link": {typ: "Patient.link", many: true},
	},
	"Patient.contact": backbone(map[string]elementDef{
		"relationship": {typ: "CodeableConcept", many: true}, "name": {typ: "HumanName"},
		"telecom": {typ: "ContactPoint", many: true}, "address": {typ: "Address"}, "gender": {typ: "code"},
		"organization": {typ: "Reference"}, "period": {typ: "Period"},
	}),
	"Patient.communication": backbone(map[string]elementDef{
		"language": {typ: "CodeableConcept", required: true}, "preferred": {typ: "boolean"},
	}),
	"Patient.link": backbone(map[string]elementDef{
		"other": {typ: "Reference", required: true}, "type": {typ: "code", required: true},
	}),
	"Identifier": element(map[string]elementDef{
		"use": {typ: "code"}, "type": {typ: "CodeableConcept"}, "system": {typ: "uri"}, "value": {typ: "string"},
		"period": {typ: "Period"}, "assigner": {typ: "Reference"},
	}),
	"HumanName": element(map[string]elementDef{
		"use": {typ: "code"}, "text": {typ: "string"}, "family": {typ: "string"}, "given": {typ: "string", many: true},
		"prefix": {typ: "string", many: true}, "suffix": {typ: "string", many: true}, "period": {typ: "Period"},
	}),
	"ContactPoint": element(map[string]elementDef{
		"system": {typ: "code"}, "value": {typ: "string"}, "use": {typ: "code"}, "rank": {typ: "positiveInt"},
		"period": {typ: "Period"},
	}),
	"Address": element(map[string]elementDef{
		"use": {typ: "code"}, "type": {typ: "code"}, "text": {typ: "string"}, "line": {typ: "string", many: true},
		"city": {typ: "string"}, "district": {typ: "string"}, "state": {typ: "string"}, "postalCode": {typ: "string"},
		"country": {typ: "string"}, "period": {typ: "Period"},
	}),
	"CodeableConcept": element(map[string]elementDef{"coding": {typ: "Coding", many: true}, "text": {typ: "string"}}),
	"Coding": element(map[string]elementDef{
		"system": {typ: "uri"}, "version": {typ: "string"}, "code": {typ: "code"}, "display": {typ: "string"},
		"userSelected": {typ: "boolean"},
	}),
	"Reference": element(map[string]elementDef{
		"reference": {typ: "string"}, "type": {typ: "uri"}, "identifier": {typ: "Identifier"}, "display": {typ: "string"},
	}),
	"Period":   element(map[string]elementDef{"start": {typ: "dateTime"}, "end": {typ: "dateTime"}}),
	"Quantity": element(map[string]elementDef{"value": {typ: "decimal"}, "comparator": {typ: "code"}, "unit": {typ: "string"}, "system": {typ: "uri"}, "code": {typ: "code"}}),
	"Attachment": element(map[string]elementDef{
		"contentType": {typ: "code"}, "language": {typ: "code"}, "data": {typ: "base64Binary"}, "url": {typ: "url"},
		"size": {typ: "unsignedInt"}, "hash": {typ: "base64Binary"}, "title": {typ: "string"}, "creation": {typ: "dateTime"},
	}),
	"Meta": element(map[string]elementDef{
		"versionId": {typ: "id"}, "lastUpdated": {typ: "instant"}, "source": {typ: "uri"},
		"profile": {typ: "canonical", many: true}, "security": {typ: "Coding", many: true}, "tag": {typ: "Coding", many: true},
	}),
	"Narrative": element(map[string]elementDef{"status": {typ: "code", required: true}, "div": {typ: "xhtml", required: true}}),
	"Extension": element(map[string]elementDef{"url": {typ: "uri", required: true}}),
	// Element is what a primitive's own extensions (_birthDate) may hold.
	"Element": element(map[string]elementDef{}),
}

// element is a data type's elements with those every element has.
func element(m map[string]elementDef) map[string]elementDef {
	m["id"] = elementDef{typ: "string"}
	m["extension"] = elementDef{typ: "Extension", many: true}
	return m
}

// backbone is a BackboneElement's elements with those every one has.
func backbone(m map[string]elementDef) map[string]elementDef {
	m["modifierExtension"] = elementDef{typ: "Extension", many: true}
	return element(m)
}

// extensionValues are the types an extension's value[x] may take (by the
// suffix of its name: valueString, valueCodeableConcept ...).
var extensionValues = []string{"Base64Binary", "Boolean", "Canonical", "Code", "Date", "DateTime", "Decimal", "Id",
	"Instant", "Integer", "Markdown", "Oid", "PositiveInt", "String", "Time", "UnsignedInt", "Uri", "Url", "Uuid",
	"Address", "Attachment", "CodeableConcept", "Coding", "ContactPoint", "HumanName", "Identifier", "Period",
	"Quantity", "Reference"}

// requiredCodes are the codes of R4's required bindings on a Patient, by
// the element's path without indexes.
var requiredCodes = map[string][]string{
	"Patient.gender":         {"male", "female", "other", "unknown"},
	"Patient.contact.gender": {"male", "female", "other", "unknown"},
	"Patient.link.type":      {"replaced-by", "replaces", "refer", "seealso"},
	"Identifier.use":         {"usual", "official", "temp", "secondary", "old"},
	"HumanName.use":          {"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"},
	"ContactPoint.system":    {"phone", "fax", "email", "pager", "url", "sms", "other"},
	"ContactPoint.use":       {"home", "work", "temp", "old", "mobile"},
	"Address.use":            {"home", "work", "temp", "old", "billing"},
	"Address.type":           {"postal", "physical", "both"},
	"Narrative.status":       {"generated", "extensions", "additional", "empty"},
	"Quantity.comparator":    {"<", "<=", ">=", ">"},
}

// The formats of R4's primitive types (http://hl7.org/fhir/R4/datatypes.html).
var (
	reDate     = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$`)
	reDateTime = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`)
	reInstant  = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)
	reTime     = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?$`)
	reCode     = regexp.MustCompile(`^[^\s]+(\s[^\s]+)*$`)
	reID       = regexp.MustCompile(`^[A-Za-z0-9\-\.]{1,64}$`)
	reURI      = regexp.MustCompile(`^\S*$`)
	reBase64   = regexp.MustCompile(`^(\s*([0-9a-zA-Z\+/=]){4}\s*)+$`)
)

// r4Check walks v (decoded with UseNumber) as a value of typ at path and
// reports what R4 refuses, by FHIRPath. at is the element's path without
// indexes, by which bindings are found.
func r4Check(bad *inputError, path, at, typ string, v any) {
	if def, ok := r4Types[typ]; ok {
		obj, isObj := v.(map[string]any)
		if !isObj {
			bad.add(path, "must be a JSON object, not "+kindOf(v))
			return
		}
		if len(obj) == 0 {
			bad.add(path, "must not be empty")
			return
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		values := 0
		for _, k := range keys {
			child := obj[k]
			if base, ok := strings.CutPrefix(k, "_"); ok {
				// A primitive's id and extensions: _birthDate, _given.
				if d, ok := def[base]; !ok || r4Types[d.typ] != nil {
					bad.add(path+"."+k, "is not an element of "+typ)
				} else {
					r4Each(bad, path+"."+k, at+"."+k, "Element", d.many, child, true)
				}
				continue
			}
			d, ok := def[k]
			if !ok && typ == "Extension" {
				if suffix, isValue := strings.CutPrefix(k, "value"); isValue && slices.Contains(extensionValues, suffix) {
					values++
					d, ok = elementDef{typ: strings.ToLower(suffix[:1]) + suffix[1:]}, true
					if r4Types[suffix] != nil {
						d.typ = suffix
					}
				}
			}
			if !ok {
				bad.add(path+"."+k, "is not an element of "+typ+" in FHIR R4")
				continue
			}
			r4Each(bad, path+"."+k, bindingPath(typ, at, k), d.typ, d.many, child, false)
		}
		for name, d := range def {
			if _, has := obj[name]; d.required && !has {
				bad.add(path+"."+name, "is required")
			}
		}
		if typ == "Extension" {
			_, nested := obj["extension"]
			if values > 1 || (values == 1) == nested {
				bad.add(path, "must have either a value[x] or nested extensions, not both or neither")
			}
		}
		return
	}
	if typ == "Resource" {
		if obj, ok := v.(map[string]any); !ok || obj["resourceType"] == nil {
			bad.add(path, "must be a resource (an object with a resourceType)")
		}
		return
	}
	if msg := primitiveProblem(typ, v); msg != "" {
		bad.add(path, msg)
		return
	}
	if codes, ok := requiredCodes[at]; ok && codes != nil {
		if s, _ := v.(string); !slices.Contains(codes, s) {
			bad.add(path, "must be one of "+strings.Join(codes, ", "))
		}
	}
}

// r4Each checks a repeating element's array, or a single one's value.
// A primitive's extensions (ext) may hold null where the array has values
// without extensions.
func r4Each(bad *inputError, path, at, typ string, many bool, v any, ext bool) {
	list, isList := v.([]any)
	switch {
	case many && !isList:
		bad.add(path, "must be a JSON array, not "+kindOf(v))
	case !many && isList:
		bad.add(path, "must be a single value, not an array")
	case many && len(list) == 0:
		bad.add(path, "must not be empty")
	case many:
		for i, item := range list {
			if ext && item == nil {
				continue
			}
			r4Check(bad, path+"["+strconv.Itoa(i)+"]", at, typ, item)
		}
	default:
		r4Check(bad, path, at, typ, v)
	}
}

// bindingPath is the key of an element in requiredCodes: the resource's
// own elements by their path, a data type's by type and element.
func bindingPath(typ, at, element string) string {
	if strings.HasPrefix(typ, "Patient") {
		return at + "." + element
	}
	return typ + "." + element
}

// primitiveProblem says what is wrong with v as an R4 primitive of typ.
func primitiveProblem(typ string, v any) string {
	switch typ {
	case "boolean":
		if _, ok := v.(bool); !ok {
			return "must be a JSON boolean, not " + kindOf(v)
		}
		return ""
	case "integer", "positiveInt", "unsignedInt":
		n, ok := v.(json.Number)
		i, err := strconv.ParseInt(string(n), 10, 32)
		switch {
		case !ok:
			return "must be a JSON number, not " + kindOf(v)
		case err != nil:
			return "must be a whole number"
		case typ == "positiveInt" && i < 1:
			return "must be 1 or more"
		case typ == "unsignedInt" && i < 0:
			return "must be 0 or more"
		}
		return ""
	case "decimal":
		if _, ok := v.(json.Number); !ok {
			return "must be a JSON number, not " + kindOf(v)
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		return "must be a JSON string, not " + kindOf(v)
	}
	if strings.TrimSpace(s) == "" {
		return "must not be empty or blank"
	}
	var re *regexp.Regexp
	switch typ {
	case "date":
		re = reDate
	case "dateTime":
		re = reDateTime
	case "instant":
		re = reInstant
	case "time":
		re = reTime
	case "code":
		re = reCode
	case "id":
		re = reID
	case "uri", "url", "canonical", "oid", "uuid":
		re = reURI
	case "base64Binary":
		re = reBase64
	}
	if re != nil && !re.MatchString(s) {
		return fmt.Sprintf("is not a valid FHIR %s", typ)
	}
	return ""
}

// kindOf names the JSON type of v, with its article.
func kindOf(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "null"
}
