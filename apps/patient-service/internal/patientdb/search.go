package patientdb

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/pgdb"
	"github.com/pms-dapr/pms/platform/validation"
)

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Search returns a page of patients matching q, newest first. The JSON
// API's filters are each served by an index: the words of name and q by
// the GIN index on name_prefixes (migrations/00006_name_word_search.sql),
// q's email prefix by the text_pattern_ops index on lower(email), email by
// patients_email_key, MRN by patients_mrn_key, birth date by
// patients_birth_date_idx, and the order and keyset position by
// patients_live_order_idx (migrations/00002_lifecycle.sql). FHIR's string filters use the folded keys and
// their indexes (migrations/00005_versions_and_name_parts.sql).
func (s *Store) Search(ctx context.Context, q patient.Query) (patient.Page, error) {
	return search(ctx, s.pool, q)
}

func search(ctx context.Context, db querier, q patient.Query) (patient.Page, error) {
	// The name is searched by its folded words, which drop what PostgreSQL
	// could not store; it is refused as the database refuses other text.
	if validation.Unstorable(q.Name) {
		return patient.Page{}, fmt.Errorf("patientdb.search: the name is not text PostgreSQL can hold (NUL or invalid UTF-8)")
	}
	sql, args := searchSQL(q)
	rows, _ := db.Query(ctx, sql, args...)
	ps, err := pgx.CollectRows(rows, scanPatient)
	if err != nil {
		return patient.Page{}, pgdb.Errorf("patientdb.search: %w", err)
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

// searchSQL is the statement and arguments of q, asking for one row more
// than a page (so the page knows whether more follow).
func searchSQL(q patient.Query) (string, []any) {
	var where []string
	var args sqlArgs
	arg := args.add
	if q.Deleted {
		where = append(where, "deleted_at IS NOT NULL")
	} else {
		where = append(where, "deleted_at IS NULL")
	}
	if q.Name != "" {
		where = append(where, wordsFilter(patient.NameWords(q.Name), &args))
	}
	if q.Email != "" {
		where = append(where, "lower(email) = lower("+arg(q.Email)+")")
	}
	if q.MRN != "" {
		where = append(where, "upper(mrn) = upper("+arg(q.MRN)+")")
	}
	if !q.BirthDate.IsZero() {
		where = append(where, "date_of_birth = "+arg(q.BirthDate))
	}
	if q.Q != "" {
		alts := []string{"lower(email) LIKE " + arg(likePrefix(q.Q)), "upper(mrn) = upper(" + arg(q.Q) + ")"}
		if words := patient.NameWords(q.Q); len(words) > 0 {
			alts = append(alts, wordsFilter(words, &args))
		}
		where = append(where, anyOf(alts))
	}
	for _, f := range q.Strings {
		where = append(where, stringFilter(f, &args))
	}
	for _, f := range q.Tokens {
		where = append(where, tokenFilter(f, &args))
	}
	for _, f := range q.Dates {
		where = append(where, dateFilter(f, &args))
	}
	if q.After != nil {
		where = append(where, "(created_at, id) < ("+arg(q.After.CreatedAt)+", "+arg(q.After.ID)+"::uuid)")
	}
	return `SELECT ` + patientColumns + ` FROM patients WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY created_at DESC, id DESC LIMIT ` + arg(q.Limit+1), args
}

// wordsFilter matches records with a name word starting with each of
// words; no words match nothing.
func wordsFilter(words []string, args *sqlArgs) string {
	if len(words) == 0 {
		return "false"
	}
	return "name_prefixes @> " + args.add(words) + "::text[]"
}

func anyOf(alts []string) string {
	if len(alts) == 0 {
		return "false"
	}
	return "(" + strings.Join(alts, " OR ") + ")"
}

// stringFilter compares folded keys (prefix, contains) or the parts as
// written (exact).
func stringFilter(f patient.StringFilter, args *sqlArgs) string {
	var alts []string
	for _, v := range f.Values {
		if f.Mode == patient.MatchExact {
			p := args.add(v)
			switch f.Field {
			case patient.FieldFamily:
				alts = append(alts, "family_name = "+p)
			case patient.FieldGiven:
				alts = append(alts, p+" = ANY(given_names)")
			default:
				alts = append(alts, "(name = "+p+" OR family_name = "+p+" OR "+p+" = ANY(given_names))")
			}
			continue
		}
		pattern := likePrefix(patient.Fold(v))
		if f.Mode == patient.MatchContains {
			pattern = "%" + pattern
		}
		p := args.add(pattern)
		given := "EXISTS (SELECT 1 FROM unnest(given_keys) g WHERE g LIKE " + p + ")"
		switch f.Field {
		case patient.FieldFamily:
			alts = append(alts, "family_key LIKE "+p)
		case patient.FieldGiven:
			alts = append(alts, given)
		default:
			alts = append(alts, "(name_key LIKE "+p+" OR family_key LIKE "+p+" OR "+given+")")
		}
	}
	return anyOf(alts)
}

// tokenFilter compares codes and identifiers case-insensitively. A record
// without a gender is "unknown", as the FHIR API shows it.
func tokenFilter(f patient.TokenFilter, args *sqlArgs) string {
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
			alts = append(alts, "coalesce(gender, 'unknown') = lower("+args.add(m.Value)+")")
		}
	}
	return anyOf(alts)
}

// dateFilter compares a date of birth as the whole day it is, and the last
// update at millisecond precision, with FHIR's meaning of each prefix
// (patient.DateRange). Both become plain range conditions on the column,
// so its index serves them.
func dateFilter(f patient.DateFilter, args *sqlArgs) string {
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
				return "(date_of_birth >= " + args.add(lo) + " AND date_of_birth <= " + args.add(hi) + ")"
			}
			after = func() string { return "date_of_birth >= " + args.add(day(r.End.Add(time.Millisecond))) }
			before = func() string { return "date_of_birth <= " + args.add(day(r.Start.Add(-time.Millisecond))) }
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
