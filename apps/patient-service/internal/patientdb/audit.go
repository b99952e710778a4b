package patientdb

import (
	"context"

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

// AuditTrail lists the entries naming patientID, oldest first.
func (s *Store) AuditTrail(ctx context.Context, patientID string) ([]patient.AuditEntry, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+auditColumns+` FROM audit_log
		WHERE patient_ids @> ARRAY[$1::uuid] ORDER BY id`, patientID)
	es, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (patient.AuditEntry, error) {
		var e patient.AuditEntry
		err := r.Scan(&e.At, &e.UserID, &e.Role, &e.Action, &e.PatientIDs, &e.RequestID, &e.Outcome, &e.Detail)
		e.At = e.At.UTC()
		return e, err
	})
	if err != nil {
		return nil, pgdb.Errorf("patientdb.audit_trail: %w", err)
	}
	return es, nil
}
