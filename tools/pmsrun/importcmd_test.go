package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A part names the identifiers and emails of its Patients, in the case
// the server compares them in; a line that is no Patient names nothing.
func TestPatientKeys(t *testing.T) {
	body := []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":" ab-1 "},{"system":"urn:ssn","value":"123"}],` +
		`"telecom":[{"system":"email","value":"Ada@Example.org"},{"system":"phone","value":"+1 555"}]}
{"resourceType":"Patient","name":
{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"AB-2"}]}
`)
	assert.Equal(t, map[string]bool{
		"identifier urn:mrn|AB-1": true, "identifier urn:ssn|123": true, "email ada@example.org": true,
		"identifier urn:mrn|AB-2": true,
	}, patientKeys(body))
}
