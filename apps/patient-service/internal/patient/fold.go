package patient

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Fold is the form every name search compares, in the JSON API and in
// FHIR alike: lower case, accents removed ("José" and "JOSE" both fold to
// "jose"), and letters that carry no combining mark written as people
// type them without it ("Ødegård" → "odegard", "Æsir" → "aesir",
// "Straße" → "strasse", "Łódź" → "lodz"). Stores keep folded copies of the
// searchable names and fold the search text the same way.
func Fold(s string) string {
	if isASCII(s) {
		return strings.ToLower(s) // nothing to decompose, no letter to spell out
	}
	t := folders.Get().(transform.Transformer)
	defer folders.Put(t)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	return letterFolds.Replace(strings.ToLower(out))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// folders are transformers that decompose (NFD), drop combining marks and
// recompose (NFC). A chain keeps state, so a call takes one of its own;
// transform.String resets it first.
var folders = sync.Pool{New: func() any {
	return transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
}}

// letterFolds spells the lower-case letters that Unicode does not
// decompose into a base letter and a mark, as a keyboard without them
// would.
var letterFolds = strings.NewReplacer(
	"ø", "o", "æ", "ae", "œ", "oe", "ß", "ss", "đ", "d", "ð", "d", "ł", "l", "þ", "th",
	"ħ", "h", "ı", "i", "ŧ", "t", "ŀ", "l", "ĸ", "k", "ŋ", "n", "ſ", "s", "ẞ", "ss",
)

// MaxWordPrefix is the longest prefix of a name word a search compares:
// longer words match on their first MaxWordPrefix letters.
const MaxWordPrefix = 24

// NameWords are the folded words of s, in order and without repeats, as a
// front desk types them: any run of letters and digits is a word, and an
// apostrophe inside one is dropped ("O'Brien" is "obrien", "Smith-Jones"
// is "smith" and "jones", "Hopper, Grace" is "hopper" and "grace"). Each is
// cut to MaxWordPrefix letters.
func NameWords(s string) []string {
	f := apostrophes.Replace(Fold(s))
	var words []string
	for _, w := range strings.FieldsFunc(f, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if utf8.RuneCountInString(w) > MaxWordPrefix {
			w = string([]rune(w)[:MaxWordPrefix])
		}
		if !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	return words
}

// apostrophes are dropped from a name's words.
var apostrophes = strings.NewReplacer("'", "", "’", "")

// NamePrefixes are every prefix of every word of the given texts (a
// record's name and its parts), without repeats: a search for a name word
// W matches a record whose prefixes hold W, which an index on the prefixes
// answers ("Grace Hopper" → g, gr, gra, grac, grace, h, ho, …, hopper).
func NamePrefixes(texts ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range texts {
		for _, w := range NameWords(t) {
			r := []rune(w)
			for i := 1; i <= len(r); i++ {
				p := string(r[:i])
				if !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// YearPrefixLen is how many first letters of a name word or key go with
// the birth year in a record's name-and-year entries.
const YearPrefixLen = 3

// YearPrefix is the name-and-year entry of a birth year and a name word's
// or key's first YearPrefixLen letters: "y1980:smi". No word holds a
// colon, so no word prefix is one.
func YearPrefix(year int, start string) string {
	return fmt.Sprintf("y%04d:%s", year, start)
}

// YearPrefixStart is the first YearPrefixLen letters of a folded word or
// key, when it has that many.
func YearPrefixStart(folded string) (string, bool) {
	n := 0
	for i := range folded {
		if n == YearPrefixLen {
			return folded[:i], true
		}
		n++
	}
	return folded, n == YearPrefixLen
}

// YearPrefixes are the name-and-year entries of a record born in year
// whose name prefixes are prefixes (NamePrefixes, with the tagged key
// prefixes "n:", "f:", "g:"): one for each word prefix and each key
// prefix of YearPrefixLen letters, so a search for a name word or a key
// start of at least that many letters, with a birth date, finds every
// match among the entries of its first letters and the dates' years
// (migration 00011 computes the same from the stored prefixes).
func YearPrefixes(year int, prefixes []string) []string {
	var out []string
	for _, p := range prefixes {
		if len(p) > 2 && p[1] == ':' && strings.ContainsRune("nfg", rune(p[0])) {
			p = p[2:]
		} else if strings.ContainsRune(p, ':') {
			continue
		}
		if utf8.RuneCountInString(p) != YearPrefixLen {
			continue
		}
		if e := YearPrefix(year, p); !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}
