package patientdb

import (
	"context"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/pgdb"
)

const auditColumns = `occurred_at, user_id, role, action, patient_ids::text[], request_id, outcome, detail`

// queueAudit adds the insert of e to b.
func queueAudit(b *pgx.Batch, e patient.AuditEntry) {
	ids := e.PatientIDs
	if ids == nil {
		ids = []string{}
	}
	b.Queue(`INSERT INTO audit_log
		(occurred_at, user_id, role, action, patient_ids, request_id, outcome, detail)
		VALUES ($1, $2, $3, $4, $5::uuid[], $6, $7, $8)`,
		e.At, e.UserID, e.Role, e.Action, ids, e.RequestID, e.Outcome, e.Detail)
}

// RecordAudit stores one audit entry on its own, group-committed with the
// entries other requests record at the same time (auditGroup): it returns
// once the entry is committed.
func (s *Store) RecordAudit(ctx context.Context, e patient.AuditEntry) error {
	if err := s.audit.record(ctx, e); err != nil {
		return pgdb.Errorf("patientdb.record_audit: %w", err)
	}
	return nil
}

// AuditTrail returns a page of the entries naming patientID, newest first,
// by the GIN index on patient_ids; an entry's position is its id.
func (s *Store) AuditTrail(ctx context.Context, patientID string, q patient.AuditQuery) (patient.AuditPage, error) {
	before := q.Before
	if before == 0 {
		before = math.MaxInt64
	}
	rows, _ := s.pool.Query(ctx, `SELECT id, `+auditColumns+` FROM audit_log
		WHERE patient_ids @> ARRAY[$1::uuid] AND id < $2 AND ($3 = '' OR action = $3)
		ORDER BY id DESC LIMIT $4`, patientID, before, q.Action, q.Limit+1)
	var ids []int64
	es, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (patient.AuditEntry, error) {
		var e patient.AuditEntry
		var id int64
		err := r.Scan(&id, &e.At, &e.UserID, &e.Role, &e.Action, &e.PatientIDs, &e.RequestID, &e.Outcome, &e.Detail)
		e.At = e.At.UTC()
		ids = append(ids, id)
		return e, err
	})
	if err != nil {
		return patient.AuditPage{}, pgdb.Errorf("patientdb.audit_trail: %w", err)
	}
	page := patient.AuditPage{Items: es}
	if len(es) > q.Limit {
		page.Items, page.Next = es[:q.Limit], ids[q.Limit-1]
	}
	return page, nil
}
