package patientdb_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/apps/patient-service/internal/patientdb"
)

// named creates a patient with a name (and parts), birth date, gender
// and phone, returning its id.
func named(t *testing.T, store *patientdb.Store, name, family string, given []string, dob, gender, phone string) string {
	t.Helper()
	p, ev, a := newPatient(uuid.NewString()[:8] + "@example.org")
	p.Name, p.Family, p.Given, p.Gender, p.Phone = name, family, given, gender, phone
	p.DateOfBirth, _ = time.Parse(patient.DateLayout, dob)
	ev.Patient = p
	require.NoError(t, store.Create(context.Background(), p, ev, a, nil))
	return p.ID
}

// The FHIR filters, each against the database: string searches fold case
// and accents and match any name part, dates mean the period they name,
// tokens compare case-insensitively.
func TestFHIRFiltersMatchWhatTheyMean(t *testing.T) {
	store := patientdb.New(template.Pool(t))
	jose := named(t, store, "José María López", "López", []string{"José", "María"}, "1980-05-12", "male", "+1 555 0100")
	lopez := named(t, store, "Ana Lopez", "", nil, "1980-12-31", "", "")
	berg := named(t, store, "Mary Ann van der Berg", "van der Berg", []string{"Mary", "Ann"}, "1990-01-01", "female", "")
	smith := named(t, store, "John Smithson", "", nil, "1979-12-31", "other", "")
	ids := func(q patient.Query) []string {
		t.Helper()
		q.Limit = 50
		page, err := store.Search(context.Background(), q)
		require.NoError(t, err)
		out := []string{}
		for _, p := range page.Items {
			out = append(out, p.ID)
		}
		return out
	}
	str := func(f patient.StringField, m patient.StringMode, v ...string) patient.Query {
		return patient.Query{Strings: []patient.StringFilter{{Field: f, Mode: m, Values: v}}}
	}
	dates := func(f patient.DateField, prefix patient.DatePrefix, start, end string) patient.Query {
		s, _ := time.Parse(time.RFC3339Nano, start)
		e, _ := time.Parse(time.RFC3339Nano, end)
		return patient.Query{Dates: []patient.DateFilter{{Field: f, Any: []patient.DateRange{{Prefix: prefix, Start: s, End: e}}}}}
	}
	tokens := func(m ...patient.TokenMatch) patient.Query {
		return patient.Query{Tokens: []patient.TokenFilter{{Any: m}}}
	}
	year1980 := [2]string{"1980-01-01T00:00:00Z", "1980-12-31T23:59:59.999Z"}
	withDates := func(q patient.Query, span [2]string) patient.Query {
		q.Dates = dates(patient.DateBirth, patient.DateEq, span[0], span[1]).Dates
		return q
	}
	for name, c := range map[string]struct {
		q    patient.Query
		want []string
	}{
		"family, accents and case ignored":  {str(patient.FieldFamily, patient.MatchPrefix, "LOPEZ"), []string{jose, lopez}},
		"family, a part recorded as sent":   {str(patient.FieldFamily, patient.MatchPrefix, "van d"), []string{berg}},
		"family, starts with, not contains": {str(patient.FieldFamily, patient.MatchPrefix, "pez"), []string{}},
		"family contains":                   {str(patient.FieldFamily, patient.MatchContains, "pez"), []string{jose, lopez}},
		"family exact, as written":          {str(patient.FieldFamily, patient.MatchExact, "Lopez"), []string{lopez}},
		"given, any of them":                {str(patient.FieldGiven, patient.MatchPrefix, "mar"), []string{jose, berg}},
		"name, text or part":                {str(patient.FieldName, patient.MatchPrefix, "smith", "ann"), []string{berg, smith}},
		"name, LIKE wildcards literal":      {str(patient.FieldName, patient.MatchContains, "%"), []string{}},
		"birthdate in 1980":                 {dates(patient.DateBirth, patient.DateEq, year1980[0], year1980[1]), []string{jose, lopez}},
		"birthdate not in 1980":             {dates(patient.DateBirth, patient.DateNe, year1980[0], year1980[1]), []string{berg, smith}},
		"birthdate before 1980":             {dates(patient.DateBirth, patient.DateLt, year1980[0], year1980[1]), []string{smith}},
		"birthdate 1980 or before":          {dates(patient.DateBirth, patient.DateLe, year1980[0], year1980[1]), []string{jose, lopez, smith}},
		"birthdate after 1980":              {dates(patient.DateBirth, patient.DateGt, year1980[0], year1980[1]), []string{berg}},
		"birthdate 1980 or after":           {dates(patient.DateBirth, patient.DateGe, year1980[0], year1980[1]), []string{jose, lopez, berg}},
		"birthdate on a day":                {dates(patient.DateBirth, patient.DateEq, "1980-12-31T00:00:00Z", "1980-12-31T23:59:59.999Z"), []string{lopez}},
		"birthdate within an hour: none":    {dates(patient.DateBirth, patient.DateEq, "1980-12-31T10:00:00Z", "1980-12-31T10:59:59.999Z"), []string{}},
		"gender, none recorded is unknown":  {tokens(patient.TokenMatch{Field: patient.TokenGender, Value: "UNKNOWN"}), []string{lopez}},
		"phone present":                     {tokens(patient.TokenMatch{Field: patient.TokenPhone, AnyValue: true}), []string{jose}},
		"phone":                             {tokens(patient.TokenMatch{Field: patient.TokenPhone, Value: "+1 555 0100"}), []string{jose}},
		"an id that is no UUID":             {tokens(patient.TokenMatch{Field: patient.TokenID, Value: "x'; --"}), []string{}},
		"no alternatives":                   {tokens(), []string{}},
		"two filters, both":                 {patient.Query{Strings: str(patient.FieldFamily, patient.MatchPrefix, "lop").Strings, Tokens: tokens(patient.TokenMatch{Field: patient.TokenGender, Value: "male"}).Tokens}, []string{jose}},
		// A name with a birth date within a few years is driven by the
		// name-and-year entries, within a week by the birth date alone:
		// either way the matches are those of both filters.
		"family and a birth year":          {withDates(str(patient.FieldFamily, patient.MatchPrefix, "LÓPE"), year1980), []string{jose, lopez}},
		"family and a birth year, none":    {withDates(str(patient.FieldFamily, patient.MatchPrefix, "smith"), year1980), []string{}},
		"name and the years about it":      {withDates(str(patient.FieldName, patient.MatchPrefix, "smith", "ana"), [2]string{"1979-01-01T00:00:00Z", "1980-12-31T23:59:59.999Z"}), []string{lopez, smith}},
		"name, a key's start and a year":   {withDates(str(patient.FieldName, patient.MatchPrefix, "van der"), [2]string{"1989-01-01T00:00:00Z", "1990-12-31T23:59:59.999Z"}), []string{berg}},
		"given exact and a year":           {withDates(str(patient.FieldGiven, patient.MatchExact, "María"), year1980), []string{jose}},
		"family, two letters, and a year":  {withDates(str(patient.FieldFamily, patient.MatchPrefix, "lo"), year1980), []string{jose, lopez}},
		"family and a birth day":           {withDates(str(patient.FieldFamily, patient.MatchPrefix, "lopez"), [2]string{"1980-12-31T00:00:00Z", "1980-12-31T23:59:59.999Z"}), []string{lopez}},
		"contains and a birth year":        {withDates(str(patient.FieldName, patient.MatchContains, "mith"), [2]string{"1979-01-01T00:00:00Z", "1980-12-31T23:59:59.999Z"}), []string{smith}},
		"JSON name and birth date":         {patient.Query{Name: "lopez ana", BirthDate: time.Date(1980, 12, 31, 0, 0, 0, 0, time.UTC)}, []string{lopez}},
		"JSON name and another birth date": {patient.Query{Name: "lopez", BirthDate: time.Date(1980, 12, 30, 0, 0, 0, 0, time.UTC)}, []string{}},
	} {
		t.Run(name, func(t *testing.T) {
			assert.ElementsMatch(t, c.want, ids(c.q))
		})
	}

	// _lastUpdated: at millisecond precision, both ends included.
	got, err := store.Get(context.Background(), jose)
	require.NoError(t, err)
	at := got.UpdatedAt.Truncate(time.Millisecond)
	exactly := func(prefix patient.DatePrefix) []string {
		return ids(patient.Query{Dates: []patient.DateFilter{{Field: patient.DateLastUpdated, Any: []patient.DateRange{{Prefix: prefix, Start: at, End: at}}}}})
	}
	assert.Contains(t, exactly(patient.DateEq), jose)
	assert.Contains(t, exactly(patient.DateGe), jose)
	assert.Contains(t, exactly(patient.DateLe), jose)
	assert.NotContains(t, exactly(patient.DateGt), jose)
	assert.NotContains(t, exactly(patient.DateLt), jose)

	// A corrected birth date moves the record's name-and-year entries.
	v2 := got
	v2.Version, v2.UpdatedAt, v2.DateOfBirth = got.Version+1, got.UpdatedAt.Add(time.Second), time.Date(1982, 5, 12, 0, 0, 0, 0, time.UTC)
	_, ev, a := newPatient("unused@example.org")
	ev.Patient, a.Action = v2, patient.ActionPatch
	require.NoError(t, store.Update(context.Background(), v2, ev, a))
	assert.ElementsMatch(t, []string{lopez}, ids(withDates(str(patient.FieldFamily, patient.MatchPrefix, "lopez"), year1980)))
	assert.ElementsMatch(t, []string{jose}, ids(withDates(str(patient.FieldFamily, patient.MatchPrefix, "lopez"), [2]string{"1982-01-01T00:00:00Z", "1982-12-31T23:59:59.999Z"})))
}

// Every change stores its version, in its transaction; versions are never
// changed, not even by the service's own role.
func TestVersionsAreKeptAndAppendOnly(t *testing.T) {
	ctx := context.Background()
	db := template.Clone(t)
	store := patientdb.New(db.Pool)
	p, ev, a := newPatient("versions@example.com")
	require.NoError(t, store.Create(ctx, p, ev, a, nil))
	v2 := p
	v2.Version, v2.Name, v2.UpdatedAt = 2, "Ada Second", p.UpdatedAt.Add(time.Second)
	a.Action, ev.ID = patient.ActionPatch, uuid.NewString()
	require.NoError(t, store.Update(ctx, v2, ev, a))
	v3 := v2
	v3.Version, v3.DeletedAt, v3.UpdatedAt = 3, v2.UpdatedAt.Add(time.Second), v2.UpdatedAt.Add(time.Second)
	a.Action, ev.ID = patient.ActionDelete, uuid.NewString()
	require.NoError(t, store.Delete(ctx, v3, ev, a))

	vs, err := store.Versions(ctx, p.ID, 0, 10)
	require.NoError(t, err)
	require.Len(t, vs, 3)
	assert.Equal(t, []string{"delete", "patch", "create"}, []string{vs[0].Action, vs[1].Action, vs[2].Action})
	assert.Equal(t, "Ada Second", vs[1].Patient.Name)
	assert.True(t, vs[0].Deleted())
	older, err := store.Versions(ctx, p.ID, 2, 10)
	require.NoError(t, err)
	require.Len(t, older, 1)
	first, err := store.GetVersion(ctx, p.ID, 1)
	require.NoError(t, err)
	p.Family, p.Given = patient.NamePartsOf(p)
	assert.Equal(t, p, first.Patient, "a version is the record as that change left it")
	_, err = store.GetVersion(ctx, p.ID, 4)
	assert.ErrorIs(t, err, patient.ErrNotFound)

	for _, sql := range []string{`UPDATE patient_versions SET record = '{}'`, `DELETE FROM patient_versions`, `TRUNCATE patient_versions`} {
		_, err := db.Pool.Exec(ctx, sql)
		assert.ErrorContains(t, err, "permission denied", sql)
	}
	owner, err := pgx.Connect(ctx, db.OwnerURL)
	require.NoError(t, err)
	defer owner.Close(ctx)
	for _, sql := range []string{`UPDATE patient_versions SET record = '{}'`, `DELETE FROM patient_versions`, `TRUNCATE patient_versions`} {
		_, err := owner.Exec(ctx, sql)
		assert.ErrorContains(t, err, "append-only", "even the owner: %s", sql)
	}
}

// Conditional creates with the same criteria, at once: one patient.
func TestCreateIfNoneMakesOnePatientUnderConcurrency(t *testing.T) {
	store := patientdb.New(template.Pool(t))
	q := patient.Query{Tokens: []patient.TokenFilter{{Any: []patient.TokenMatch{{Field: patient.TokenMRN, Value: "MRN-RACE"}}}}}
	const n = 12
	var wg sync.WaitGroup
	created := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, ev, a := newPatient(uuid.NewString()[:8] + "@example.org")
			p.MRN = "MRN-RACE"
			ev.Patient = p
			matches, err := store.CreateIfNone(context.Background(), "identifier=MRN-RACE", q, p, ev, a)
			created[i], errs[i] = err == nil && len(matches) == 0, err
		}()
	}
	wg.Wait()
	made := 0
	for i := range n {
		require.NoError(t, errs[i])
		if created[i] {
			made++
		}
	}
	assert.Equal(t, 1, made)
}

// Rows written before name parts (or name word prefixes) existed get
// them, and their search keys, from BackfillSearchKeys.
func TestBackfillSearchKeys(t *testing.T) {
	ctx := context.Background()
	pool := template.Pool(t)
	store := patientdb.New(pool)
	id := named(t, store, "Chloé Dupont", "", nil, "1990-01-01", "", "")
	_, err := pool.Exec(ctx, `UPDATE patients SET family_name = NULL, given_names = '{}', name_key = NULL, family_key = NULL, given_keys = '{}', name_prefixes = NULL WHERE id = $1`, id)
	require.NoError(t, err)
	find := func() int {
		page, err := store.Search(ctx, patient.Query{Limit: 5, Strings: []patient.StringFilter{{Field: patient.FieldGiven, Values: []string{"chloe"}}}})
		require.NoError(t, err)
		return len(page.Items)
	}
	byWord := func() int {
		page, err := store.Search(ctx, patient.Query{Limit: 5, Name: "dupont"})
		require.NoError(t, err)
		return len(page.Items)
	}
	require.Equal(t, 0, find())
	require.Equal(t, 0, byWord())
	n, err := store.BackfillSearchKeys(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, 1, find())
	assert.Equal(t, 1, byWord())
	got, err := store.Get(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "Dupont", got.Family)
	n, err = store.BackfillSearchKeys(ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, n, "nothing left to fill")
}

// The JSON API's name and q search the way a front desk does: any word of
// the name, in any order, folded as FHIR folds it, optionally with the
// date of birth; and the plan stays on the indexes.
func TestSearchByAnyWordOfTheName(t *testing.T) {
	ctx := context.Background()
	clone := template.Clone(t)
	store := patientdb.New(clone.Pool)
	grace := named(t, store, "Grace Hopper", "", nil, "1906-12-09", "", "")
	brewster := named(t, store, "Grace Brewster Murray", "Murray", []string{"Grace", "Brewster"}, "1950-01-01", "", "")
	ase := named(t, store, "Åse Ødegård", "", nil, "1970-03-04", "", "")
	obrien := named(t, store, "Siobhán O'Brien-Smith", "", nil, "1980-01-01", "", "")
	ids := func(q patient.Query) []string {
		t.Helper()
		q.Limit = 50
		page, err := store.Search(ctx, q)
		require.NoError(t, err)
		out := []string{}
		for _, p := range page.Items {
			out = append(out, p.ID)
		}
		return out
	}
	dob := func(s string) time.Time { d, _ := time.Parse(patient.DateLayout, s); return d }
	for _, tc := range []struct {
		what string
		q    patient.Query
		want []string
	}{
		{"surname alone", patient.Query{Name: "Hopper"}, []string{grace}},
		{"surname prefix, any case", patient.Query{Name: "HOP"}, []string{grace}},
		{"given name", patient.Query{Name: "grace"}, []string{brewster, grace}},
		{"surname, given name", patient.Query{Name: "Hopper, Grace"}, []string{grace}},
		{"middle name", patient.Query{Name: "brewster"}, []string{brewster}},
		{"every word must match", patient.Query{Name: "grace smith"}, []string{}},
		{"surname and date of birth", patient.Query{Name: "grace", BirthDate: dob("1906-12-09")}, []string{grace}},
		{"Ø and å folded", patient.Query{Name: "odegard"}, []string{ase}},
		{"written with the letters", patient.Query{Name: "Ødegård, Åse"}, []string{ase}},
		{"apostrophe and hyphen", patient.Query{Name: "obrien"}, []string{obrien}},
		{"after a hyphen", patient.Query{Name: "smith siobhan"}, []string{obrien}},
		{"q by name word", patient.Query{Q: "hopper"}, []string{grace}},
		{"LIKE wildcards are no words", patient.Query{Name: "%"}, []string{}},
		{"a word inside a word is no match", patient.Query{Name: "opper"}, []string{}},
	} {
		assert.Equal(t, tc.want, ids(tc.q), tc.what)
	}

	// The plan: among thousands of other patients, with fresh statistics
	// (VACUUM merges what waits in the GIN index's pending list),
	// the words are looked up in the GIN index on name_prefixes, not
	// compared row by row.
	owner, err := pgx.Connect(ctx, clone.OwnerURL)
	require.NoError(t, err)
	defer owner.Close(ctx)
	_, err = owner.Exec(ctx, `INSERT INTO patients (id, name, email, address, mrn, date_of_birth, registered_date, version,
		created_at, updated_at, name_prefixes)
		SELECT gen_random_uuid(), 'Filler ' || i, 'filler' || i || '@example.org', 'x', 'FILL-' || i, '1990-01-01',
			'2026-01-01', 1, now(), now(), ARRAY['f', 'fi', 'fil', 'filler', i::text]
		FROM generate_series(1, 5000) i`)
	require.NoError(t, err)
	_, err = owner.Exec(ctx, "VACUUM ANALYZE patients")
	require.NoError(t, err)
	rows, err := owner.Query(ctx, `EXPLAIN SELECT id FROM patients WHERE deleted_at IS NULL AND name_prefixes @> $1::text[]
		ORDER BY created_at DESC, id DESC LIMIT 21`, []string{"hopper", "grace"})
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Contains(t, strings.Join(lines, "\n"), "patients_name_prefixes_idx", "the name word search uses its index")
}
