package patient_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
)

// The folding rules every name search shares (the JSON API's name and q,
// FHIR's name, family and given): what a front desk types must find what
// the record holds.
func TestFoldMatchesWhatPeopleType(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"José", "jose"},
		{"JOSE", "jose"},
		{"López", "lopez"},
		{"Ødegård", "odegard"},
		{"Ærø", "aero"},
		{"Œuvre", "oeuvre"},
		{"Straße", "strasse"},
		{"STRAẞE", "strasse"},
		{"Đorđević", "dordevic"},
		{"Łódź", "lodz"},
		{"Þór", "thor"},
		{"Guðrún", "gudrun"},
		{"Ħamrun", "hamrun"},
		{"Iıİ", "iii"},
		{"Nguyễn", "nguyen"},
		{"Müller-Lüdenscheidt", "muller-ludenscheidt"},
		{"Ana María", "ana maria"},
		{"李小龍", "李小龍"},
	} {
		assert.Equal(t, tc.want, patient.Fold(tc.in), "Fold(%q)", tc.in)
	}
}

func TestNameWordsSplitAsAFrontDeskSearches(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Grace Hopper", []string{"grace", "hopper"}},
		{"Hopper, Grace", []string{"hopper", "grace"}},
		{"  hopper  ", []string{"hopper"}},
		{"O'Brien", []string{"obrien"}},
		{"O’Brien", []string{"obrien"}},
		{"Smith-Jones", []string{"smith", "jones"}},
		{"Ødegård, Åse", []string{"odegard", "ase"}},
		{"Anna Anna", []string{"anna"}},
		{"--- ,", nil},
		{"Wolfeschlegelsteinhausenbergerdorff", []string{"wolfeschlegelsteinhausen"}},
	} {
		assert.Equal(t, tc.want, patient.NameWords(tc.in), "NameWords(%q)", tc.in)
	}
}

func TestNamePrefixesHoldEveryPrefixOfEveryWordOnce(t *testing.T) {
	assert.Equal(t, []string{"g", "gr", "gra", "grac", "grace", "h", "ho", "hop", "hopp", "hoppe", "hopper"},
		patient.NamePrefixes("Grace Hopper", "Hopper", "Grace"))
	assert.Equal(t, []string{"o", "od", "ode", "odeg", "odega", "odegar", "odegard"}, patient.NamePrefixes("Ødegård"))
	assert.Empty(t, patient.NamePrefixes(""))
}

// Folding shares its transformers between calls: concurrent ones each get
// the whole of their own text.
func TestFoldIsTheSameConcurrently(t *testing.T) {
	want := map[string]string{"José Ødegård": "jose odegard", "Łódź": "lodz", "ÉLODIE Müller": "elodie muller", "Ada": "ada"}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				for in, out := range want {
					if got := patient.Fold(in); got != out {
						t.Errorf("Fold(%q) = %q, want %q", in, got, out)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// A record's name-and-year entries are its name words' and keys' first
// three letters with its birth year; a search takes the same letters of
// what it looks for, when it has three.
func TestYearPrefixesPairNameStartsWithTheBirthYear(t *testing.T) {
	prefixes := append(patient.NamePrefixes("Li Ødegård"), "n:l", "n:li", "n:li ", "n:li o", "f:o", "f:od", "f:ode", "g:l", "g:li")
	assert.Equal(t, []string{"y1980:ode", "y1980:li "}, patient.YearPrefixes(1980, prefixes))
	assert.Empty(t, patient.YearPrefixes(1980, []string{"li", "g:li", "y1980:ode"}), "short words and year entries give none")

	s, ok := patient.YearPrefixStart(patient.Fold("Ødegård"))
	assert.True(t, ok)
	assert.Equal(t, "y1980:ode", patient.YearPrefix(1980, s))
	_, ok = patient.YearPrefixStart("li")
	assert.False(t, ok, "two letters: no entry holds every match")
	s, ok = patient.YearPrefixStart("łód")
	assert.True(t, ok)
	assert.Equal(t, "łód", s, "letters, not bytes")
}
