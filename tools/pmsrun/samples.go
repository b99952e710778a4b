package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

var (
	sampleGiven = []string{"Ada", "Grace", "Alan", "Mary", "John", "Zoë", "José", "Chloé", "Björn", "Siobhán", "Amara", "Kenji",
		"Fatima", "Oluwaseun", "Mateo", "Ingrid", "Raj", "Léa", "Noah", "Emma", "Liam", "Olivia", "Ava", "Lucas", "Mia",
		"Aarav", "Yuki", "Hana", "Omar", "Sofía", "Élodie", "Søren", "Anaïs", "Małgorzata", "Dmitri", "Chiara", "Thabo"}
	sampleFamily = []string{"Lovelace", "Hopper", "Turing", "Curie", "Smith", "Müller", "García", "Núñez", "O'Brien", "Nguyen",
		"Okafor", "Tanaka", "Kowalski", "Johansson", "Rossi", "Dubois", "Patel", "Kim", "Ivanova", "Haddad", "Fernández",
		"Schäfer", "Byrne", "Lefèvre", "Ødegaard", "Papadopoulos", "Mensah", "Svensson", "Walsh", "Gonçalves", "Yılmaz",
		"Novák", "Horváth", "Andersen", "Costa", "Moreau", "Becker", "Jansen", "Silva", "Sato"}
	sampleStreets = []string{"Main St", "High Street", "Rue de la Paix", "Calle Mayor", "Hauptstraße", "Park Avenue", "Station Road"}
	sampleGender  = []string{"female", "male", "female", "male", "female", "male", "other", "unknown"}
)

// samplePatients writes synthetic FHIR Patients, one per line, each with
// its own MRN and email: a file to try an import with.
func samplePatients(args []string) error {
	fs := flag.NewFlagSet("pmsrun sample-patients", flag.ContinueOnError)
	n := fs.Int("n", 1000, "how many patients")
	seed := fs.Uint64("seed", 1, "seed of the generator (the same seed writes the same file)")
	prefix := fs.String("mrn-prefix", "SYN", "prefix of the generated medical record numbers")
	system := fs.String("mrn-system", "http://pms.example.org/fhir/sid/mrn", "the server's FHIR_MRN_SYSTEM")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || fs.NArg() > 0 {
		return errors.New("usage: pmsrun sample-patients [-n N] [-seed S] [-mrn-prefix P] [-mrn-system URI] > patients.ndjson")
	}
	rng := rand.New(rand.NewPCG(*seed, 0x9e3779b97f4a7c15))
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := 1; i <= *n; i++ {
		given, family := pick(rng, sampleGiven), pick(rng, sampleFamily)
		mrn := fmt.Sprintf("%s-%08d", *prefix, i)
		p := map[string]any{
			"resourceType": "Patient",
			"identifier":   []map[string]string{{"system": *system, "value": mrn}},
			"name":         []map[string]any{{"use": "official", "family": family, "given": []string{given}}},
			"telecom": []map[string]string{
				{"system": "email", "value": strings.ToLower(mrn) + "@example.org"},
				{"system": "phone", "value": fmt.Sprintf("+1 555 %03d %04d", rng.IntN(1000), rng.IntN(10000))},
			},
			"gender":    pick(rng, sampleGender),
			"birthDate": fmt.Sprintf("%04d-%02d-%02d", 1930+rng.IntN(90), 1+rng.IntN(12), 1+rng.IntN(28)),
			"address":   []map[string]string{{"text": fmt.Sprintf("%d %s", 1+rng.IntN(999), pick(rng, sampleStreets))}},
		}
		if err := enc.Encode(p); err != nil {
			return err
		}
	}
	return w.Flush()
}

func pick(rng *rand.Rand, xs []string) string { return xs[rng.IntN(len(xs))] }
