package patientdb

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
	"github.com/pms-dapr/pms/platform/pgdb"
)

// record is a version's copy of a patient in patient_versions.record.
type record struct {
	Name           string     `json:"name"`
	Family         string     `json:"family,omitempty"`
	Given          []string   `json:"given,omitempty"`
	Email          string     `json:"email"`
	Address        string     `json:"address"`
	Phone          string     `json:"phone,omitempty"`
	Gender         string     `json:"gender,omitempty"`
	MRN            string     `json:"mrn"`
	DateOfBirth    string     `json:"dateOfBirth"`
	RegisteredDate string     `json:"registeredDate"`
	CreatedAt      time.Time  `json:"createdAt"`
	UpdatedAt      time.Time  `json:"updatedAt"`
	DeletedAt      time.Time  `json:"deletedAt,omitzero"`
	More           moreRecord `json:"more,omitzero"`
}

// moreRecord is a version's copy of what a FHIR client sent beyond the
// registry's fields.
type moreRecord struct {
	Resource    json.RawMessage `json:"resource,omitempty"`
	Identifiers []string        `json:"identifiers,omitempty"`
	OtherNames  []string        `json:"otherNames,omitempty"`
}

func recordOf(p patient.Patient) record {
	family, given := patient.NamePartsOf(p)
	return record{Name: p.Name, Family: family, Given: given, Email: p.Email, Address: p.Address, Phone: p.Phone,
		Gender: p.Gender, MRN: p.MRN, DateOfBirth: p.DateOfBirth.Format(patient.DateLayout),
		RegisteredDate: p.RegisteredDate.Format(patient.DateLayout),
		CreatedAt:      p.CreatedAt, UpdatedAt: p.UpdatedAt, DeletedAt: p.DeletedAt,
		More: moreRecord{Resource: p.More.Resource, Identifiers: p.More.Identifiers, OtherNames: p.More.OtherNames}}
}

func (r record) patient(id string, version int64) (patient.Patient, error) {
	dob, err1 := time.Parse(patient.DateLayout, r.DateOfBirth)
	reg, err2 := time.Parse(patient.DateLayout, r.RegisteredDate)
	if err := errors.Join(err1, err2); err != nil {
		return patient.Patient{}, err
	}
	p := patient.Patient{ID: id, Name: r.Name, Family: r.Family, Given: r.Given, Email: r.Email, Address: r.Address,
		Phone: r.Phone, Gender: r.Gender, MRN: r.MRN, DateOfBirth: dob, RegisteredDate: reg, Version: version,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		More: patient.More{Resource: r.More.Resource, Identifiers: r.More.Identifiers, OtherNames: r.More.OtherNames}}
	if !r.DeletedAt.IsZero() {
		p.DeletedAt = r.DeletedAt.UTC()
	}
	return p, nil
}

// queueVersion adds to b the insert of p, as a change (action) left it,
// as its version.
func queueVersion(b *pgx.Batch, p patient.Patient, action string) error {
	rec, err := json.Marshal(recordOf(p))
	if err != nil {
		return err
	}
	b.Queue(`INSERT INTO patient_versions (patient_id, version, action, recorded_at, record)
		VALUES ($1, $2, $3, $4, $5)`, p.ID, p.Version, action, p.UpdatedAt, rec)
	return nil
}

// versionAction is the version action of an audited change.
func versionAction(auditAction string) string {
	switch auditAction {
	case patient.ActionCreate, patient.ActionPatch, patient.ActionDelete:
		return auditAction
	}
	return patient.ActionUpdate
}

const versionColumns = `patient_id::text, version, action, record`

func scanVersion(row pgx.CollectableRow) (patient.Version, error) {
	var (
		id  string
		n   int64
		v   patient.Version
		raw []byte
		r   record
	)
	if err := row.Scan(&id, &n, &v.Action, &raw); err != nil {
		return v, err
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return v, err
	}
	p, err := r.patient(id, n)
	v.Patient = p
	return v, err
}

// Versions returns up to limit versions of patient id older than before
// (0: from the newest), newest first.
func (s *Store) Versions(ctx context.Context, id string, before int64, limit int) ([]patient.Version, error) {
	if before <= 0 {
		before = 1 << 62
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+versionColumns+` FROM patient_versions
		WHERE patient_id = $1 AND version < $2 ORDER BY version DESC LIMIT $3`, id, before, limit)
	vs, err := pgx.CollectRows(rows, scanVersion)
	if err != nil {
		return nil, pgdb.Errorf("patientdb.versions: %w", err)
	}
	return vs, nil
}

// GetVersion returns version v of patient id, or patient.ErrNotFound.
func (s *Store) GetVersion(ctx context.Context, id string, v int64) (patient.Version, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+versionColumns+` FROM patient_versions
		WHERE patient_id = $1 AND version = $2`, id, v)
	ver, err := pgx.CollectExactlyOneRow(rows, scanVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return patient.Version{}, patient.ErrNotFound
	}
	if err != nil {
		return patient.Version{}, pgdb.Errorf("patientdb.get_version: %w", err)
	}
	return ver, nil
}
