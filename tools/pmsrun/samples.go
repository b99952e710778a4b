package main

import (
	"errors"
	"flag"
	"os"

	"github.com/pms-dapr/pms/tools/pmsrun/samples"
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
	return samples.Write(os.Stdout, samples.Options{From: 1, To: *n, Seed: *seed, MRNPrefix: *prefix, MRNSystem: *system})
}
