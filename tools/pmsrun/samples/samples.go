// Package samples writes synthetic FHIR Patients as NDJSON, for trying a
// bulk import (pmsrun sample-patients) and for the scale benchmark.
package samples

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

var (
	given = []string{"Ada", "Grace", "Alan", "Mary", "John", "Zoë", "José", "Chloé", "Björn", "Siobhán", "Amara", "Kenji",
		"Fatima", "Oluwaseun", "Mateo", "Ingrid", "Raj", "Léa", "Noah", "Emma", "Liam", "Olivia", "Ava", "Lucas", "Mia",
		"Aarav", "Yuki", "Hana", "Omar", "Sofía", "Élodie", "Søren", "Anaïs", "Małgorzata", "Dmitri", "Chiara", "Thabo"}
	family = []string{"Lovelace", "Hopper", "Turing", "Curie", "Smith", "Müller", "García", "Núñez", "O'Brien", "Nguyen",
		"Okafor", "Tanaka", "Kowalski", "Johansson", "Rossi", "Dubois", "Patel", "Kim", "Ivanova", "Haddad", "Fernández",
		"Schäfer", "Byrne", "Lefèvre", "Ødegaard", "Papadopoulos", "Mensah", "Svensson", "Walsh", "Gonçalves", "Yılmaz",
		"Novák", "Horváth", "Andersen", "Costa", "Moreau", "Becker", "Jansen", "Silva", "Sato"}
	streets = []string{"Main St", "High Street", "Rue de la Paix", "Calle Mayor", "Hauptstraße", "Park Avenue", "Station Road"}
	genders = []string{"female", "male", "female", "male", "female", "male", "other", "unknown"}
)

// RareFamily is the family name of one patient in every 100,000 (the
// 8th, the 100,008th ...): a search for a rare surname.
const RareFamily = "Quennell"

// Options say what Write writes.
type Options struct {
	From, To  int    // patient numbers, From to To inclusive (each has its own MRN and email)
	Seed      uint64 // the same seed writes the same patients
	MRNPrefix string // MRNs are <prefix>-<8 digits>
	MRNSystem string // the server's FHIR_MRN_SYSTEM
}

// MRN is patient i's medical record number.
func (o Options) MRN(i int) string { return fmt.Sprintf("%s-%08d", o.MRNPrefix, i) }

// Email is patient i's email address.
func (o Options) Email(i int) string { return strings.ToLower(o.MRN(i)) + "@example.org" }

// Phone is patient i's phone number.
func Phone(i int) string { return fmt.Sprintf("+1 555 %07d", i%10_000_000) }

// Write writes patients From to To, one FHIR Patient a line.
func Write(w io.Writer, o Options) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := o.From; i <= o.To; i++ {
		rng := rand.New(rand.NewPCG(o.Seed, uint64(i)))
		fam := pick(rng, family)
		if i%100_000 == 8 {
			fam = RareFamily
		}
		p := map[string]any{
			"resourceType": "Patient",
			"identifier":   []map[string]string{{"system": o.MRNSystem, "value": o.MRN(i)}},
			"name":         []map[string]any{{"use": "official", "family": fam, "given": []string{pick(rng, given)}}},
			"telecom": []map[string]string{
				{"system": "email", "value": o.Email(i)},
				{"system": "phone", "value": Phone(i)},
			},
			"gender":    pick(rng, genders),
			"birthDate": fmt.Sprintf("%04d-%02d-%02d", 1930+rng.IntN(90), 1+rng.IntN(12), 1+rng.IntN(28)),
			"address":   []map[string]string{{"text": fmt.Sprintf("%d %s", 1+rng.IntN(999), pick(rng, streets))}},
		}
		if err := enc.Encode(p); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func pick(rng *rand.Rand, xs []string) string { return xs[rng.IntN(len(xs))] }
