package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// countLines counts a file's lines, a last one without its newline too,
// and leaves the file at its start for the parts to be read from.
func TestCountLines(t *testing.T) {
	dir := t.TempDir()
	for body, want := range map[string]int{"": 0, "a\n": 1, "a\nb\n": 2, "a\nb": 2, "a\n\nb\n": 3} {
		path := filepath.Join(dir, "f.ndjson")
		require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
		f, err := os.Open(path)
		require.NoError(t, err)
		n, err := countLines(f)
		require.NoError(t, err)
		assert.Equal(t, want, n, "%q", body)
		again, err := io.ReadAll(f)
		require.NoError(t, err)
		assert.Equal(t, body, string(again), "read again from the start")
		f.Close()
	}
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	_, err = countLines(r)
	assert.ErrorIs(t, err, errNotRegular, "a pipe is read once, as it comes")
}
