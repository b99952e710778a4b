package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// letters is a random lower-case word, so that this test's names are its own.
func letters(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rand.IntN(26))
	}
	return string(b)
}

// The JSON API finds patients the way a front desk searches, through the
// gateway: by surname alone, "Surname, Given", a given name, surname with
// date of birth, and with letters folded as the FHIR API folds them.
func TestSearchFindsPatientsByAnyWordOfTheirName(t *testing.T) {
	tag := letters(6)
	register := func(name, dob string) string {
		body := newPatient(name)
		body["email"] = fmt.Sprintf("%s.%d@example.com", tag, seq.Add(1))
		body["dateOfBirth"] = dob
		p, _ := createPatient(t, body)
		return p.ID
	}
	hopper := register("Grace Hopper"+tag, "1906-12-09")
	twin := register("Grace Hopper"+tag, "1950-05-05")
	other := register("Graceful Smith"+tag, "1906-12-09")
	ase := register("Åse Ødegård"+tag, "1970-03-04")

	search := func(query url.Values) []string {
		t.Helper()
		r := do(t, http.MethodGet, gateway+"/patients?"+query.Encode(), nil)
		require.Equal(t, http.StatusOK, r.status, "%s: %s", query.Encode(), r.body)
		page := decodeAs[struct {
			Items []patient `json:"items"`
		}](t, r)
		ids := []string{}
		for _, p := range page.Items {
			ids = append(ids, p.ID)
		}
		return ids
	}
	for _, tc := range []struct {
		what  string
		query url.Values
		want  []string
	}{
		{"surname alone", url.Values{"name": {"hopper" + tag}}, []string{twin, hopper}},
		{"surname, given name", url.Values{"name": {"Hopper" + tag + ", Grace"}}, []string{twin, hopper}},
		{"surname and date of birth", url.Values{"name": {"HOPPER" + tag}, "birthDate": {"1906-12-09"}}, []string{hopper}},
		{"the start of a given name, with the date of birth (q narrows to this test's emails)",
			url.Values{"name": {"grace"}, "birthDate": {"1906-12-09"}, "q": {tag}}, []string{other, hopper}},
		{"q by surname", url.Values{"q": {"smith" + tag}}, []string{other}},
		{"Ø, Å folded", url.Values{"name": {"odegard" + tag}}, []string{ase}},
		{"as written", url.Values{"q": {"Ødegård" + tag + " åse"}}, []string{ase}},
	} {
		assert.Equal(t, tc.want, search(tc.query), tc.what)
	}

	r := do(t, http.MethodGet, gateway+"/patients?name="+url.QueryEscape("--"), nil)
	assert.Equal(t, http.StatusBadRequest, r.status, "a name with no word is refused: %s", r.body)
	assert.Contains(t, string(r.body), `"field":"name"`)
}
