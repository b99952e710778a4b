package patientdb

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/pgdb"
)

// Search returns a page of patients matching q, newest first. Each filter
// is served by an index (see migrations/00002_lifecycle.sql): name and q
// prefixes by the text_pattern_ops indexes on lower(name) and lower(email),
// email by patients_email_key, MRN by patients_mrn_key, birth date by
// patients_birth_date_idx, and the order and keyset position by
// patients_live_order_idx.
func (s *Store) Search(ctx context.Context, q patient.Query) (patient.Page, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Deleted {
		where = append(where, "deleted_at IS NOT NULL")
	} else {
		where = append(where, "deleted_at IS NULL")
	}
	if q.Name != "" {
		where = append(where, "lower(name) LIKE "+arg(likePrefix(q.Name)))
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
		p := arg(likePrefix(q.Q))
		where = append(where, "(lower(name) LIKE "+p+" OR lower(email) LIKE "+p+" OR upper(mrn) = upper("+arg(q.Q)+"))")
	}
	if q.After != nil {
		where = append(where, "(created_at, id) < ("+arg(q.After.CreatedAt)+", "+arg(q.After.ID)+"::uuid)")
	}
	sql := `SELECT ` + patientColumns + ` FROM patients WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY created_at DESC, id DESC LIMIT ` + arg(q.Limit+1)
	rows, _ := s.pool.Query(ctx, sql, args...)
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

// likePrefix is a LIKE pattern matching values that start with v (lower
// case), with LIKE's wildcards in v taken literally.
func likePrefix(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(strings.ToLower(v)) + "%"
}
