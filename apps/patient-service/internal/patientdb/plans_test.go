package patientdb

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/pgtest"
)

// planRows is how many patients the plan test loads: enough that a scan
// growing with the table stands out from one that does not (100,000;
// PLAN_ROWS sets another number, 1000000 for a look at a million).
var planRows = envRows()

// Every documented search, at 100,000 patients, is answered without a
// sequential scan of patients and without examining rows that grow with
// the table: the walk reads at most its window, and the indexed look only
// rows its indexes selected (what it filters out afterwards is a fraction
// of what it keeps). Both for a plan made for the values (custom) and for
// one made once for any values (generic, as PostgreSQL switches to for a
// statement pgx has prepared and run five times).
func TestEverySearchPlanStaysIndexedAtScale(t *testing.T) {
	c := pgtest.NewTemplate("patient", Migrations()).Clone(t)
	ctx := context.Background()
	loadPatients(t, c)

	mrn := func(i int) string { return fmt.Sprintf("MRN-%07d", i) }
	str := func(f patient.StringField, m patient.StringMode, v ...string) patient.Query {
		return patient.Query{Strings: []patient.StringFilter{{Field: f, Mode: m, Values: v}}}
	}
	tok := func(f patient.TokenField, v string) patient.Query {
		return patient.Query{Tokens: []patient.TokenFilter{{Any: []patient.TokenMatch{{Field: f, Value: v}}}}}
	}
	day := func(s string) []patient.DateFilter {
		d, _ := time.Parse(time.DateOnly, s)
		return []patient.DateFilter{{Field: patient.DateBirth, Any: []patient.DateRange{{Prefix: patient.DateEq, Start: d, End: d.Add(24*time.Hour - time.Millisecond)}}}}
	}
	year := func(from string, to ...string) []patient.DateFilter {
		last := from
		if len(to) > 0 {
			last = to[0]
		}
		s, _ := time.Parse("2006", from)
		e, _ := time.Parse("2006", last)
		return []patient.DateFilter{{Field: patient.DateBirth, Any: []patient.DateRange{{Prefix: patient.DateEq, Start: s, End: e.AddDate(1, 0, 0).Add(-time.Millisecond)}}}}
	}
	searches := map[string]patient.Query{
		"list":                            {},
		"list, a deep page":               {After: &patient.Cursor{CreatedAt: planEpoch.Add(time.Duration(planRows/10) * time.Second), ID: uuid.Nil.String()}},
		"deleted":                         {Deleted: true},
		"JSON name, a common surname":     {Name: "Smith"},
		"JSON name, a rare surname":       {Name: "Quennell"},
		"JSON name, no match":             {Name: "Zzyzx"},
		"JSON name and birth date":        {Name: "Smith", BirthDate: time.Date(1980, 2, 3, 0, 0, 0, 0, time.UTC)},
		"JSON email":                      {Email: "p42@example.com"},
		"JSON MRN":                        {MRN: mrn(4242)},
		"JSON q, an email prefix":         {Q: "p4242"},
		"JSON q, a rare name":             {Q: "quennell"},
		"FHIR name, common":               str(patient.FieldName, patient.MatchPrefix, "smi"),
		"FHIR name, rare":                 str(patient.FieldName, patient.MatchPrefix, "Quennell"),
		"FHIR name, no match":             str(patient.FieldName, patient.MatchPrefix, "Zzyzx"),
		"FHIR name, longer than a key":    str(patient.FieldName, patient.MatchPrefix, "Quennellquennellquennellquennell"),
		"FHIR family, rare":               str(patient.FieldFamily, patient.MatchPrefix, "quenn"),
		"FHIR given, rare":                str(patient.FieldGiven, patient.MatchPrefix, "Xiomara"),
		"FHIR name:contains, rare":        str(patient.FieldName, patient.MatchContains, "ennel"),
		"FHIR name:contains, no match":    str(patient.FieldName, patient.MatchContains, "zzyzx"),
		"FHIR family:exact":               str(patient.FieldFamily, patient.MatchExact, "Quennell"),
		"FHIR telecom, a phone":           tok(patient.TokenPhone, "+1 555 004242"),
		"FHIR email":                      tok(patient.TokenEmail, "P42@example.com"),
		"FHIR identifier":                 tok(patient.TokenMRN, mrn(77)),
		"FHIR identifier, another system": tok(patient.TokenIdentifier, planSSN+"|"+ssn(4242)),
		"FHIR identifier, any system": {Tokens: []patient.TokenFilter{{Any: []patient.TokenMatch{
			{Field: patient.TokenMRN, Value: ssn(4242)}, {Field: patient.TokenIdentifier, Value: "*|" + ssn(4242)}}}}},
		"FHIR identifier, a system's every one": tok(patient.TokenIdentifier, planSSN+"|"),
		"FHIR _id":                              tok(patient.TokenID, planID(4242)),
		"FHIR gender, rare":                     tok(patient.TokenGender, "other"),
		"FHIR gender, common":                   tok(patient.TokenGender, "female"),
		"FHIR gender, two":                      {Tokens: []patient.TokenFilter{{Any: []patient.TokenMatch{{Field: patient.TokenGender, Value: "other"}, {Field: patient.TokenGender, Value: "unknown"}}}}},
		"FHIR birthdate, a day":                 {Dates: day("1980-02-03")},
		"FHIR family and gender":                {Strings: str(patient.FieldFamily, patient.MatchPrefix, "quennell").Strings, Tokens: tok(patient.TokenGender, "female").Tokens},
		"FHIR birthdate and name":               {Strings: str(patient.FieldName, patient.MatchPrefix, "smith").Strings, Dates: day("1980-02-03")},
		"FHIR family and birth year":            {Strings: str(patient.FieldFamily, patient.MatchPrefix, "smith").Strings, Dates: year("1980")},
		"FHIR name and birth years":             {Strings: str(patient.FieldName, patient.MatchPrefix, "smit", "quenn").Strings, Dates: year("1979", "1980")},
		"FHIR _lastUpdated, recent": {Dates: []patient.DateFilter{{Field: patient.DateLastUpdated, Any: []patient.DateRange{{
			Prefix: patient.DateGt, Start: planEpoch.Add(time.Duration(planRows-50) * time.Second), End: planEpoch.Add(time.Duration(planRows-50) * time.Second)}}}}},
	}
	for name, q := range searches {
		q.Limit = patient.DefaultListLimit
		t.Run(name, func(t *testing.T) {
			conn, err := c.Pool.Acquire(ctx)
			require.NoError(t, err)
			defer conn.Release()
			for _, generic := range []bool{false, true} {
				mode := "custom"
				if generic {
					mode = "generic"
				}
				for i, st := range searchStatements(q) {
					p := explain(t, conn.Conn(), st, generic)
					what := fmt.Sprintf("%s plan of look %d: %s", mode, i+1, p.raw)
					t.Logf("%s plan, look %d: %d rows read, %d returned, %.1f ms", mode, i+1, p.examined, p.returned, p.ms)
					assert.Zero(t, p.seqScans, "a sequential scan of patients: %s", what)
					if strings.Contains(st.SQL, "recent WHERE") {
						assert.LessOrEqual(t, p.examined, walkWindow+q.Limit+1, "the walk reads past its window: %s", what)
					} else {
						assert.LessOrEqual(t, p.filteredOut, p.kept/2+50, "rows selected by no index: %s", what)
					}
					if p.returned > q.Limit {
						break // the search ends with a full page
					}
				}
			}
		})
	}
}

// planSSN is the system of the identifier every third loaded patient has
// beside its MRN.
const planSSN = "http://hl7.org/fhir/sid/us-ssn"

func ssn(i int) string { return fmt.Sprintf("999-%07d", i) }

// planEpoch is when the first loaded patient registered; one a second.
var planEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func planID(i int) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprint(i))).String()
}

// loadPatients COPYs planRows patients with realistic names: common and
// rare surnames and given names (a few with accents), one in a hundred of
// gender "other", a few soft-deleted; then ANALYZE (as the owner, as
// autovacuum would: only the owner may).
func loadPatients(t *testing.T, c *pgtest.Clone) {
	t.Helper()
	pool := c.Pool
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	givens := []string{"Ada", "Grace", "José", "Marie", "Ingrid", "Kwame", "Aiko", "Liam", "Olivia", "Noah",
		"Emma", "Lucas", "Sofía", "Mateo", "Amara", "Yusuf", "Chloé", "Søren", "Priya", "Tomás"}
	starts := []string{"Ab", "Bar", "Cal", "Dun", "El", "Far", "Gar", "Hol", "Ing", "Jan", "Kel", "Lind", "Mor",
		"Nor", "Os", "Pen", "Ran", "Sand", "Tor", "Ul", "Van", "Wes", "Yor", "Zel", "Ber", "Kin", "Mal", "Stra"}
	ends := []string{"berg", "son", "ley", "ford", "ez", "ova", "ić", "ström", "ton", "well", "man", "sen",
		"ski", "ard", "ette", "ino", "wood", "by", "hurst", "ach"}
	cols := []string{"id", "name", "email", "address", "phone", "gender", "mrn", "date_of_birth", "registered_date",
		"version", "created_at", "updated_at", "deleted_at", "family_name", "given_names", "name_key", "family_key",
		"given_keys", "name_prefixes", "identifier_keys"}
	rows := make([][]any, 0, planRows)
	for i := range planRows {
		family := starts[rng.IntN(len(starts))] + ends[rng.IntN(len(ends))]
		switch {
		case i%10 == 0:
			family = "Smith"
		case i%20_000 == 7:
			family = "Quennell" // five in all
		}
		given := givens[rng.IntN(len(givens))]
		if i == 31_337 {
			given = "Xiomara"
		}
		gender := []string{"female", "male"}[i%2]
		if i%100 == 3 {
			gender = "other"
		}
		at := planEpoch.Add(time.Duration(i) * time.Second)
		born := time.Date(1930+rng.IntN(90), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		p := patient.Patient{ID: planID(i), Name: given + " " + family, Family: family, Given: []string{given}, DateOfBirth: born}
		k := keysOf(p)
		ids := []string{}
		if i%3 == 0 {
			ids = patient.IdentifierKeys(planSSN, ssn(i))
		}
		var deleted any
		if i%5_000 == 1 {
			deleted = at.Add(time.Hour)
		}
		rows = append(rows, []any{p.ID, p.Name, fmt.Sprintf("p%d@example.com", i), "1 Main St",
			fmt.Sprintf("+1 555 %06d", i), gender, fmt.Sprintf("MRN-%07d", i),
			born,
			at, 1, at, at, deleted, k.family, k.given, k.name, k.familyKey, k.givenKeys, k.prefixes, ids})
	}
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"patients"}, cols, pgx.CopyFromRows(rows))
	require.NoError(t, err)
	owner, err := pgxpool.New(ctx, c.OwnerURL)
	require.NoError(t, err)
	defer owner.Close()
	_, err = owner.Exec(ctx, "ANALYZE patients")
	require.NoError(t, err)
}

// plan is what a statement's EXPLAIN ANALYZE says of the scans of patients.
type plan struct {
	seqScans    int
	examined    int // rows the scans of patients read
	kept        int // of those, rows they returned
	filteredOut int // rows a scan read and then dropped (filter, recheck)
	returned    int // rows of the whole statement
	ms          float64
	raw         string
}

// explain runs st under EXPLAIN (ANALYZE, FORMAT JSON): as it is for a
// custom plan, or prepared and executed with plan_cache_mode set to
// force_generic_plan for a generic one.
func explain(t *testing.T, conn *pgx.Conn, st statement, generic bool) plan {
	t.Helper()
	ctx := context.Background()
	sql, args := "EXPLAIN (ANALYZE, FORMAT JSON) "+st.SQL, st.Args
	if generic {
		_, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan")
		require.NoError(t, err)
		_, err = conn.Exec(ctx, "PREPARE look AS "+st.SQL)
		require.NoError(t, err)
		params := make([]string, len(args))
		for i, a := range args {
			params[i] = literal(a)
		}
		sql, args = "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE look("+strings.Join(params, ", ")+")", nil
		defer func() { _, _ = conn.Exec(ctx, "DEALLOCATE look; RESET plan_cache_mode") }()
	}
	var raw []byte
	require.NoError(t, conn.QueryRow(ctx, sql, args...).Scan(&raw))
	var out []struct {
		Plan node
		Ms   float64 `json:"Execution Time"`
	}
	require.NoError(t, json.Unmarshal(raw, &out))
	p := plan{returned: int(out[0].Plan.ActualRows), ms: out[0].Ms}
	var walk func(n node)
	walk = func(n node) {
		if n.RelationName == "patients" {
			if n.NodeType == "Seq Scan" {
				p.seqScans++
			}
			loops := max(int(n.ActualLoops), 1)
			kept := int(n.ActualRows) * loops
			dropped := int(n.RemovedByFilter+n.RemovedByRecheck) * loops
			p.kept += kept
			p.filteredOut += dropped
			p.examined += kept + dropped
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(out[0].Plan)
	p.raw = compactPlan(out[0].Plan, 0)
	return p
}

// literal is v as a quoted literal of unknown type, which EXECUTE converts
// to its parameter's type (EXECUTE takes no bind parameters).
func literal(v any) string {
	var text string
	switch v := v.(type) {
	case time.Time:
		text = v.Format(time.RFC3339Nano)
	case []string:
		quoted := make([]string, len(v))
		for i, e := range v {
			quoted[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(e) + `"`
		}
		text = "{" + strings.Join(quoted, ",") + "}"
	default:
		text = fmt.Sprint(v)
	}
	return "'" + strings.ReplaceAll(text, "'", "''") + "'"
}

// node is one node of a JSON plan.
type node struct {
	NodeType         string  `json:"Node Type"`
	RelationName     string  `json:"Relation Name"`
	IndexName        string  `json:"Index Name"`
	ActualRows       float64 `json:"Actual Rows"`
	ActualLoops      float64 `json:"Actual Loops"`
	RemovedByFilter  float64 `json:"Rows Removed by Filter"`
	RemovedByRecheck float64 `json:"Rows Removed by Index Recheck"`
	Plans            []node  `json:"Plans"`
}

// compactPlan is a plan's nodes, one a line, for a failure's message.
func compactPlan(n node, depth int) string {
	s := fmt.Sprintf("\n%s%s %s %s rows=%.0f loops=%.0f filtered=%.0f", strings.Repeat("  ", depth), n.NodeType,
		n.RelationName, n.IndexName, n.ActualRows, n.ActualLoops, n.RemovedByFilter+n.RemovedByRecheck)
	for _, c := range n.Plans {
		s += compactPlan(c, depth+1)
	}
	return s
}

// Records stored before the whole-key prefixes existed get them from the
// migration that adds them, from the keys they hold: FHIR's string
// searches find them at once, with no backfill to wait for.
func TestSearchKeysMigrateWithTheirRows(t *testing.T) {
	ctx := context.Background()
	before := fstest.MapFS{}
	require.NoError(t, fs.WalkDir(Migrations(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path >= "00008" {
			return err
		}
		raw, err := fs.ReadFile(Migrations(), path)
		before[path] = &fstest.MapFile{Data: raw}
		return err
	}))
	c := pgtest.NewTemplate("patient", before).Clone(t)
	p := patient.Patient{ID: uuid.NewString(), Name: "Zoë Ødegård", Family: "Ødegård", Given: []string{"Zoë"}, DateOfBirth: planEpoch}
	k := keysOf(p)
	// The insert of that time (migration 00007's columns).
	_, err := c.Pool.Exec(ctx, `INSERT INTO patients
		(id, name, email, address, phone, gender, mrn, date_of_birth, registered_date, version, created_at, updated_at,
		 family_name, given_names, name_key, family_key, given_keys, name_prefixes)
		VALUES ($1, $2, $3, $4, nullif($5, ''), nullif($6, ''), $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`, p.ID, p.Name, "zoe@example.com", "x", "", "", "MRN-1",
		planEpoch, planEpoch, 1, planEpoch, planEpoch, k.family, k.given, k.name, k.familyKey, k.givenKeys,
		patient.NamePrefixes(p.Name, p.Family, p.Given[0]))
	require.NoError(t, err)

	owner, err := pgxpool.New(ctx, c.OwnerURL)
	require.NoError(t, err)
	defer owner.Close()
	require.NoError(t, pgdb.Migrate(ctx, slog.New(slog.DiscardHandler), owner, Migrations()))

	store := New(c.Pool)
	for _, f := range []patient.StringFilter{
		{Field: patient.FieldName, Mode: patient.MatchPrefix, Values: []string{"zoe od"}},
		{Field: patient.FieldFamily, Mode: patient.MatchPrefix, Values: []string{"ODEG"}},
		{Field: patient.FieldGiven, Mode: patient.MatchPrefix, Values: []string{"zo"}},
		{Field: patient.FieldName, Mode: patient.MatchContains, Values: []string{"degar"}},
		{Field: patient.FieldFamily, Mode: patient.MatchExact, Values: []string{"Ødegård"}},
	} {
		page, err := store.Search(ctx, patient.Query{Strings: []patient.StringFilter{f}, Limit: 10})
		require.NoError(t, err)
		require.Len(t, page.Items, 1, "%+v", f)
		assert.Equal(t, p.ID, page.Items[0].ID)
	}
	var prefixes []string
	require.NoError(t, c.Pool.QueryRow(ctx, "SELECT name_prefixes FROM patients").Scan(&prefixes))
	assert.ElementsMatch(t, k.prefixes, prefixes, "the migration's keys are the service's")
}

func envRows() int {
	if n, err := strconv.Atoi(os.Getenv("PLAN_ROWS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}
