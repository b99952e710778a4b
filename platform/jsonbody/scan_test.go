package jsonbody

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// The pass over bytes and the token walk must read every valid document
// alike: random documents with repeated keys at every depth, and strings
// with every kind of escape (NUL, a lone surrogate, U+FFFD, \/ and \").
func TestCheckScanAgreesWithTokens(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	keys := []string{"a", "b", "name", `n\u0061me`, `a\/b`, "a/b", `q\"`, "é", `\u00e9`, "\u00e9"}
	strs := []string{"x", "Zoë 李", `\u0000`, `\ud800`, `\ufffd`, "\ufffd", `\n\t`, `\\`, `\"`, `\/`, ""}
	var value func(depth int) string
	value = func(depth int) string {
		switch k := r.IntN(8); {
		case depth > 3 || k < 3:
			return []string{"1", "-2.5e3", "true", "false", "null", `"` + strs[r.IntN(len(strs))] + `"`}[r.IntN(6)]
		case k < 6:
			var b strings.Builder
			b.WriteString("{")
			for i := range r.IntN(4) {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(`"` + keys[r.IntN(len(keys))] + `" : ` + value(depth+1))
			}
			b.WriteString("}")
			return b.String()
		default:
			var b strings.Builder
			b.WriteString("[")
			for i := range r.IntN(4) {
				if i > 0 {
					b.WriteString(",\n")
				}
				b.WriteString(value(depth + 1))
			}
			b.WriteString("]")
			return b.String()
		}
	}
	found := map[string]int{}
	for range 20_000 {
		doc := []byte(value(0))
		if !json.Valid(doc) {
			t.Fatalf("the generator wrote invalid JSON: %s", doc)
		}
		field, msg := checkScan(doc)
		wantField, wantMsg := checkTokens(doc)
		if field != wantField || msg != wantMsg {
			t.Fatalf("%s:\nscan   %q %q\ntokens %q %q", doc, field, msg, wantField, wantMsg)
		}
		found[msg]++
	}
	// Every outcome was met, so the comparison covered each.
	for _, msg := range []string{"", "is given twice; give each key once", "must not contain NUL characters", "must be valid UTF-8"} {
		if found[msg] == 0 {
			t.Errorf("no document gave %q", msg)
		}
	}
}

// BenchmarkCheckTokens is BenchmarkCheck's line read token by token, as
// a document that is not valid UTF-8 is.
func BenchmarkCheckTokens(b *testing.B) {
	line := []byte(`{"address":[{"text":"812 Main St"}],"birthDate":"2012-04-27","gender":"female","identifier":[{"system":"http://pms.example.org/fhir/sid/mrn","value":"SYN-00000001"}],"name":[{"family":"Sato","given":["Mary"],"use":"official"}],"resourceType":"Patient","telecom":[{"system":"email","value":"syn-00000001@example.org"},{"system":"phone","value":"+1 555 0000001"}]}`)
	for b.Loop() {
		if f, _ := checkTokens(line); f != "" {
			b.Fatal(f)
		}
	}
}
