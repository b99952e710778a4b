package patientdb

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/validation"
)

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Search returns a page of patients matching q, newest first. Every
// filter is answered from an index (migrations/00008_search_at_scale.sql):
// the JSON API's name words and FHIR's string prefixes from the GIN index
// on name_prefixes, :contains from the trigram index over the folded keys,
// email, MRN, phone, gender, birth date and _lastUpdated from B-tree
// indexes, and the order and keyset position from patients_live_order_idx.
// How the two looks of searchStatements share the work keeps a page's cost
// bounded whether a filter matches most records or almost none.
func (s *Store) Search(ctx context.Context, q patient.Query) (patient.Page, error) {
	return search(ctx, s.pool, q)
}

func search(ctx context.Context, db querier, q patient.Query) (patient.Page, error) {
	// The name is searched by its folded words, which drop what PostgreSQL
	// could not store; it is refused as the database refuses other text.
	if validation.Unstorable(q.Name) {
		return patient.Page{}, fmt.Errorf("patientdb.search: the name is not text PostgreSQL can hold (NUL or invalid UTF-8)")
	}
	var ps []patient.Patient
	looks := searchStatements(q)
	for i := 0; i < len(looks); i++ {
		rows, _ := db.Query(ctx, looks[i].SQL, looks[i].Args...)
		var err error
		if ps, err = pgx.CollectRows(rows, scanPatient); err != nil {
			return patient.Page{}, pgdb.Errorf("patientdb.search: %w", err)
		}
		if len(ps) > q.Limit {
			break
		}
		if looks[i].scout && len(ps) == 0 {
			i = len(looks) - 2 // on to the last look
		}
	}
	page := patient.Page{Items: ps}
	if len(ps) > q.Limit {
		page.Items = ps[:q.Limit]
		last := page.Items[q.Limit-1]
		page.Next = &patient.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return page, nil
}

// sqlArgs builds a statement's positional arguments.
type sqlArgs []any

func (a *sqlArgs) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// statement is one SQL statement and its arguments.
type statement struct {
	SQL  string
	Args []any
	// scout marks a short walk: when it finds nothing, the search goes
	// straight on to its last look.
	scout bool
}

// walkWindow is how many of the newest records (after the cursor) the
// walk reads, and scoutWindow how many the short walk before it reads.
const (
	walkWindow  = 2000
	scoutWindow = 500
)

// searchStatements are the looks that answer q, each asking for one row
// more than a page (so the page knows whether more follow); a look that
// finds more than a page ends the search, and the last look is complete.
//
//   - The walk reads the newest walkWindow records in order
//     (patients_live_order_idx) and keeps those that match: a page when
//     the filters match often, whatever it costs to find them by index.
//     A short walk of the newest scoutWindow records goes first: it fills
//     the page of a filter one record in 24 or more matches, on average,
//     and when it finds nothing the filter is almost surely too rare for
//     the walk (one that fills a page in walkWindow records, on average,
//     finds nothing in scoutWindow about once in 200), so the search
//     skips the walk.
//   - The indexed look finds every match by the filters' indexes and sorts
//     them: few when the walk found less than a page, so little to sort.
//
// Neither depends on the planner guessing how many records a value
// matches, which it cannot for a generic plan. Filters that name a record
// (an id, email, MRN or phone), and a birth date a name goes with (see
// driver), skip the walk; no filters, or a gender alone, need one look in
// an index's order.
func searchStatements(q patient.Query) []statement {
	var args sqlArgs
	filters, pinpoint := searchFilters(q, &args)
	live := "deleted_at IS NULL"
	if q.Deleted {
		live = "deleted_at IS NOT NULL"
	}
	if q.After != nil {
		live += " AND (created_at, id) < (" + args.add(q.After.CreatedAt) + ", " + args.add(q.After.ID) + "::uuid)"
	}
	limit := args.add(q.Limit + 1)
	const order = ` ORDER BY created_at DESC, id DESC`
	if filters == "" || ordered(q) {
		if filters != "" {
			live += " AND " + filters
		}
		return []statement{{SQL: `SELECT ` + patientColumns + ` FROM patients WHERE ` + live + order + ` LIMIT ` + limit, Args: args}}
	}
	indexed := statement{SQL: `WITH matches AS MATERIALIZED (SELECT id, created_at FROM patients WHERE ` + live + ` AND ` + filters + `)
		SELECT ` + patientColumns + ` FROM patients WHERE id IN (SELECT id FROM matches` + order + ` LIMIT ` + limit + `)` + order, Args: args}
	if pinpoint {
		return []statement{indexed}
	}
	walk := func(window int) statement {
		return statement{SQL: `SELECT ` + patientColumns + ` FROM (SELECT * FROM patients WHERE ` + live + order + ` LIMIT ` +
			strconv.Itoa(window) + `) recent WHERE ` + filters + order + ` LIMIT ` + limit, Args: args, scout: window < walkWindow}
	}
	return []statement{walk(scoutWindow), walk(walkWindow), indexed}
}

// ordered tells whether q's only filter is one gender, which
// patients_gender_idx lists in order: one look, in that order, reads a
// page whatever share of the records has that gender.
func ordered(q patient.Query) bool {
	return !q.Deleted && q.Name == "" && q.Email == "" && q.MRN == "" && q.BirthDate.IsZero() && q.Q == "" &&
		len(q.Strings) == 0 && len(q.Dates) == 0 && len(q.Tokens) == 1 &&
		len(q.Tokens[0].Any) == 1 && q.Tokens[0].Any[0].Field == patient.TokenGender && !q.Tokens[0].Any[0].AnyValue
}

// searchFilters is q's filters as one condition ("" for none), and whether
// one of them names at most a record or two.
func searchFilters(q patient.Query, args *sqlArgs) (string, bool) {
	var where []string
	arg := args.add
	drive := driverOf(q)
	if drive.years != nil {
		where = append(where, "name_prefixes && "+args.add(drive.years)+"::text[]")
	}
	if q.Name != "" {
		where = append(where, wordsFilter(drive.prefixes, patient.NameWords(q.Name), args))
	}
	if q.Email != "" {
		where = append(where, "lower(email) = lower("+arg(q.Email)+")")
	}
	if q.MRN != "" {
		where = append(where, "upper(mrn) = upper("+arg(q.MRN)+")")
	}
	pinpoint := q.Email != "" || q.MRN != ""
	if !q.BirthDate.IsZero() {
		where = append(where, drive.birth+" = "+arg(q.BirthDate))
	}
	if q.Q != "" {
		alts := []string{prefixRange("lower(email)", strings.ToLower(q.Q), args), "upper(mrn) = upper(" + arg(q.Q) + ")"}
		if words := patient.NameWords(q.Q); len(words) > 0 {
			alts = append(alts, wordsFilter(drive.prefixes, words, args))
		}
		where = append(where, anyOf(alts))
	}
	for _, f := range q.Strings {
		where = append(where, stringFilter(drive.prefixes, f, args))
	}
	others := len(where)+len(q.Tokens)+len(q.Dates) > 1 // filters beside any one token filter
	for _, f := range q.Tokens {
		where = append(where, tokenFilter(f, args, others))
		pinpoint = pinpoint || f.Pinpoints()
	}
	for _, f := range q.Dates {
		where = append(where, dateFilter(drive.birth, f, args))
	}
	// A search the birth date or the name-and-year entries drive selects
	// few records by index; the walk would seldom fill a page from them.
	return strings.Join(where, " AND "), pinpoint || drive.narrow
}

// driver is which index drives a search that pairs a name with a birth
// date, two filters that each match more records as the registry grows (a
// common surname, a birth year) while together they match few:
//
//   - a birth date within a week: the birth date's B-tree alone, the name
//     rechecked on its rows (the name's terms in a form no index answers);
//   - a birth date within yearSpan years: name_prefixes' entries of a name
//     word's first letters with its birth year ("y1980:smi", see
//     patient.YearPrefixes), which hold few records each; the birth date
//     is rechecked on them (in a form no index answers);
//   - otherwise each filter's own index, as always.
//
// A generic plan cannot see how common a name or a year is, so the choice
// is made here, from the filters' shape.
type driver struct {
	prefixes string   // the expression name searches compare
	birth    string   // the expression birth date searches compare
	years    []string // entries of which a match holds one; nil for none
	// narrow: the driving index selects few records, those of a week's
	// birth dates or of a name start in a few birth years.
	narrow bool
}

// yearSpan is how many birth years a search may name for the name-and-year
// entries to drive it.
const yearSpan = 5

func driverOf(q patient.Query) driver {
	d := driver{prefixes: "name_prefixes", birth: "date_of_birth"}
	lo, hi, ok := birthSpan(q)
	if !ok {
		return d
	}
	if hi.Sub(lo) < 7*24*time.Hour {
		d.prefixes, d.narrow = "(name_prefixes || '{}'::text[])", true
		return d
	}
	starts := nameStarts(q)
	if starts == nil || hi.Year()-lo.Year() >= yearSpan {
		return d
	}
	for y := lo.Year(); y <= hi.Year(); y++ {
		for _, s := range starts {
			if e := patient.YearPrefix(y, s); !slices.Contains(d.years, e) {
				d.years = append(d.years, e)
			}
		}
	}
	d.birth, d.narrow = "(date_of_birth + 0)", true
	return d
}

// birthSpan is the first and last birth day every match lies between, when
// a birth date filter bounds them on both sides.
func birthSpan(q patient.Query) (lo, hi time.Time, ok bool) {
	if !q.BirthDate.IsZero() {
		return q.BirthDate, q.BirthDate, true
	}
	for _, f := range q.Dates {
		if f.Field != patient.DateBirth || len(f.Any) == 0 {
			continue
		}
		var flo, fhi time.Time
		bounded := true
		for i, r := range f.Any {
			if r.Prefix != patient.DateEq {
				bounded = false
				break
			}
			rlo, rhi := ceilDay(r.Start), day(r.End.Add(time.Millisecond)).AddDate(0, 0, -1)
			if i == 0 || rlo.Before(flo) {
				flo = rlo
			}
			if i == 0 || rhi.After(fhi) {
				fhi = rhi
			}
		}
		if bounded && (!ok || fhi.Sub(flo) < hi.Sub(lo)) {
			lo, hi, ok = flo, fhi, !fhi.Before(flo)
		}
	}
	return lo, hi, ok
}

// nameStarts are the first patient.YearPrefixLen letters of the folded
// words or keys one name filter of q starts with, of which every match
// holds one: the JSON name's first word, or each value of the first FHIR
// string filter that compares a start (prefix or :exact); nil when no
// filter gives that many letters for each of its values.
func nameStarts(q patient.Query) []string {
	if q.Name != "" {
		for _, w := range patient.NameWords(q.Name) {
			if s, ok := patient.YearPrefixStart(w); ok {
				return []string{s}
			}
		}
	}
	for _, f := range q.Strings {
		if f.Mode == patient.MatchContains || len(f.Values) == 0 {
			continue
		}
		var starts []string
		for _, v := range f.Values {
			s, ok := patient.YearPrefixStart(patient.Fold(v))
			if !ok {
				starts = nil
				break
			}
			starts = append(starts, s)
		}
		if starts != nil {
			return starts
		}
	}
	return nil
}

// wordsFilter matches records with a name word starting with each of
// words, comparing the prefixes expression; no words match nothing.
func wordsFilter(prefixes string, words []string, args *sqlArgs) string {
	if len(words) == 0 {
		return "false"
	}
	return prefixes + " @> " + args.add(words) + "::text[]"
}

func anyOf(alts []string) string {
	if len(alts) == 0 {
		return "false"
	}
	return "(" + strings.Join(alts, " OR ") + ")"
}

// Tags of the whole-key prefixes in name_prefixes.
const (
	tagName   = "n:" // the name's text
	tagFamily = "f:" // the family name
	tagGiven  = "g:" // a given name
)

// keyPrefixes are the tagged prefixes of each folded key, up to
// patient.MaxWordPrefix letters, for name_prefixes.
func keyPrefixes(tag string, keys ...string) []string {
	var out []string
	for _, k := range keys {
		r := []rune(k)
		for i := 1; i <= len(r) && i <= patient.MaxWordPrefix; i++ {
			if p := tag + string(r[:i]); !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// fieldTags are the key kinds a string field compares: a name matches by
// its text or any of its parts.
func fieldTags(f patient.StringField) []string {
	switch f {
	case patient.FieldFamily:
		return []string{tagFamily}
	case patient.FieldGiven:
		return []string{tagGiven}
	default:
		return []string{tagName, tagFamily, tagGiven}
	}
}

// stringFilter matches any of f's values.
func stringFilter(prefixes string, f patient.StringFilter, args *sqlArgs) string {
	var alts []string
	for _, v := range f.Values {
		alts = append(alts, stringMatch(prefixes, f.Field, f.Mode, v, args))
	}
	return anyOf(alts)
}

// stringMatch compares folded keys (prefix, contains) or the parts as
// written (exact). The index answers a prefix of up to MaxWordPrefix
// letters exactly; a longer one, :contains and :exact are rechecked on the
// field itself.
func stringMatch(prefixes string, field patient.StringField, mode patient.StringMode, v string, args *sqlArgs) string {
	folded := patient.Fold(v)
	switch mode {
	case patient.MatchExact:
		return both(keyIndex(prefixes, field, folded, args), exactMatch(field, args.add(v)))
	case patient.MatchContains:
		p := args.add("%" + likePrefix(folded))
		trigrams := ""
		if utf8.RuneCountInString(folded) >= 3 {
			trigrams = "patient_name_text(name_key, family_key, given_keys) LIKE " + p
		}
		return both(trigrams, likeMatch(field, p))
	default:
		index := keyIndex(prefixes, field, folded, args)
		if index != "" && utf8.RuneCountInString(folded) <= patient.MaxWordPrefix {
			return index
		}
		return both(index, likeMatch(field, args.add(likePrefix(folded))))
	}
}

// keyIndex matches records with a key of field's kinds starting with the
// folded text (its first MaxWordPrefix letters), by the prefixes
// expression (name_prefixes, which its index answers); "" for no text.
func keyIndex(prefixes string, field patient.StringField, folded string, args *sqlArgs) string {
	if folded == "" {
		return ""
	}
	if r := []rune(folded); len(r) > patient.MaxWordPrefix {
		folded = string(r[:patient.MaxWordPrefix])
	}
	var keys []string
	for _, t := range fieldTags(field) {
		keys = append(keys, t+folded)
	}
	return prefixes + " && " + args.add(keys) + "::text[]"
}

// both is a AND b, either of which may be "".
func both(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return "(" + a + " AND " + b + ")"
}

// likeMatch compares field's folded keys with the LIKE pattern p.
func likeMatch(field patient.StringField, p string) string {
	given := "EXISTS (SELECT 1 FROM unnest(given_keys) g WHERE g LIKE " + p + ")"
	switch field {
	case patient.FieldFamily:
		return "family_key LIKE " + p
	case patient.FieldGiven:
		return given
	default:
		return "(name_key LIKE " + p + " OR family_key LIKE " + p + " OR " + given + ")"
	}
}

// exactMatch compares field's parts as written with p.
func exactMatch(field patient.StringField, p string) string {
	switch field {
	case patient.FieldFamily:
		return "family_name = " + p
	case patient.FieldGiven:
		return p + " = ANY(given_names)"
	default:
		return "(name = " + p + " OR family_name = " + p + " OR " + p + " = ANY(given_names))"
	}
}

// prefixRange matches expr values starting with v as a range of the
// text_pattern_ops order, which a B-tree index answers for a parameter
// too (LIKE 'v%' is only rewritten into one for a literal pattern).
func prefixRange(expr, v string, args *sqlArgs) string {
	return "(" + expr + " ~>=~ " + args.add(v) + " AND " + expr + " ~<~ " + args.add(v+"\U0010FFFF") + ")"
}

// tokenFilter compares codes and identifiers case-insensitively. A record
// without a gender is "unknown", as the FHIR API shows it.
//
// With other filters beside it, gender is compared in a form its index
// does not answer: with four values, it selects less than any other
// filter, and a generic plan, which cannot see how rare a value is, would
// otherwise drive by the gender's index and filter by the rest.
func tokenFilter(f patient.TokenFilter, args *sqlArgs, others bool) string {
	gender := "coalesce(gender, 'unknown')"
	if others {
		gender = "(" + gender + " || '')"
	}
	var alts []string
	for _, m := range f.Any {
		if m.AnyValue {
			switch m.Field {
			case patient.TokenPhone:
				alts = append(alts, "phone IS NOT NULL")
			default:
				alts = append(alts, "true")
			}
			continue
		}
		switch m.Field {
		case patient.TokenID:
			if patient.ValidID(strings.ToLower(m.Value)) {
				alts = append(alts, "id = "+args.add(strings.ToLower(m.Value))+"::uuid")
			}
		case patient.TokenMRN:
			alts = append(alts, "upper(mrn) = upper("+args.add(m.Value)+")")
		case patient.TokenEmail:
			alts = append(alts, "lower(email) = lower("+args.add(m.Value)+")")
		case patient.TokenPhone:
			alts = append(alts, "lower(phone) = lower("+args.add(m.Value)+")")
		case patient.TokenGender:
			alts = append(alts, gender+" = lower("+args.add(m.Value)+")")
		case patient.TokenIdentifier:
			alts = append(alts, "identifier_keys @> ARRAY["+args.add(strings.ToLower(m.Value))+"::text]")
		}
	}
	return anyOf(alts)
}

// dateFilter compares a date of birth as the whole day it is, and the last
// update at millisecond precision, with FHIR's meaning of each prefix
// (patient.DateRange). Both become plain range conditions on the column,
// so its index serves them.
func dateFilter(birth string, f patient.DateFilter, args *sqlArgs) string {
	var alts []string
	for _, r := range f.Any {
		var within, after, before func() string
		if f.Field == patient.DateBirth {
			// A day D lies within [start, end] when D starts at or after
			// start and ends at or before end; it ends after end when D is
			// on or after the day of end+1ms; it starts before start when D
			// is on or before the day of start-1ms.
			lo, hi := ceilDay(r.Start), day(r.End.Add(time.Millisecond)).AddDate(0, 0, -1)
			within = func() string {
				return "(" + birth + " >= " + args.add(lo) + " AND " + birth + " <= " + args.add(hi) + ")"
			}
			after = func() string { return birth + " >= " + args.add(day(r.End.Add(time.Millisecond))) }
			before = func() string { return birth + " <= " + args.add(day(r.Start.Add(-time.Millisecond))) }
		} else {
			// updated_at at millisecond precision u: start <= u <= end is
			// start <= updated_at < end+1ms, and so on.
			within = func() string {
				return "(updated_at >= " + args.add(r.Start) + " AND updated_at < " + args.add(r.End.Add(time.Millisecond)) + ")"
			}
			after = func() string { return "updated_at >= " + args.add(r.End.Add(time.Millisecond)) }
			before = func() string { return "updated_at < " + args.add(r.Start) }
		}
		switch r.Prefix {
		case patient.DateNe:
			alts = append(alts, "NOT "+within())
		case patient.DateGt:
			alts = append(alts, after())
		case patient.DateLt:
			alts = append(alts, before())
		case patient.DateGe:
			alts = append(alts, "("+after()+" OR "+within()+")")
		case patient.DateLe:
			alts = append(alts, "("+before()+" OR "+within()+")")
		default:
			alts = append(alts, within())
		}
	}
	return anyOf(alts)
}

// day is the UTC day t falls on.
func day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// ceilDay is the first day starting at or after t.
func ceilDay(t time.Time) time.Time {
	d := day(t)
	if d.Equal(t) {
		return d
	}
	return d.AddDate(0, 0, 1)
}

// likePrefix is a LIKE pattern matching values that start with v (lower
// case), with LIKE's wildcards in v taken literally.
func likePrefix(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(strings.ToLower(v)) + "%"
}

// CreateIfNone inserts p unless a live patient matches q. A transaction
// lock on the criteria makes concurrent calls with the same criteria run
// one after another: the second sees the first's patient and returns it.
func (s *Store) CreateIfNone(ctx context.Context, criteria string, q patient.Query, p patient.Patient, ev patient.Event, audit patient.AuditEntry) ([]patient.Patient, error) {
	var matches []patient.Patient
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('patient-create:' || $1, 0))`, criteria); err != nil {
			return err
		}
		q.Limit, q.After, q.Deleted = 2, nil, false
		page, err := search(ctx, tx, q)
		if err != nil || len(page.Items) > 0 {
			matches = page.Items
			return err
		}
		b, err := newPatient(ctx, p, ev, audit)
		if err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return matches, s.mapErr("create_if_none", err)
}
