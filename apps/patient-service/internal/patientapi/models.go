package patientapi

import (
	"time"

	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
)

// patientRequest is what a client may write. Server-owned fields (id,
// version, timestamps, billingAccountId) are not in it, so a body that
// sends them is rejected as having unknown fields.
type patientRequest struct {
	Name           string `json:"name"`
	Email          string `json:"email"`
	Address        string `json:"address"`
	DateOfBirth    string `json:"dateOfBirth"`
	RegisteredDate string `json:"registeredDate,omitempty"`
	Phone          string `json:"phone,omitempty"`
	Gender         string `json:"gender,omitempty"`
	MRN            string `json:"mrn,omitempty"`
}

func (b patientRequest) draft() patient.Draft {
	return patient.Draft{Name: b.Name, Email: b.Email, Address: b.Address, DateOfBirth: b.DateOfBirth,
		RegisteredDate: b.RegisteredDate, Phone: b.Phone, Gender: b.Gender, MRN: b.MRN}
}

func fromDraft(d patient.Draft) patientRequest {
	return patientRequest{Name: d.Name, Email: d.Email, Address: d.Address, DateOfBirth: d.DateOfBirth,
		RegisteredDate: d.RegisteredDate, Phone: d.Phone, Gender: d.Gender, MRN: d.MRN}
}

type patientResponse struct {
	ID               string `json:"id"`
	MRN              string `json:"mrn"`
	Name             string `json:"name"`
	Email            string `json:"email"`
	Phone            string `json:"phone,omitempty"`
	Gender           string `json:"gender,omitempty"`
	Address          string `json:"address"`
	DateOfBirth      string `json:"dateOfBirth"`
	RegisteredDate   string `json:"registeredDate"`
	BillingAccountID string `json:"billingAccountId,omitempty"`
	Version          int64  `json:"version"`
	CreatedAt        string `json:"createdAt"`
	UpdatedAt        string `json:"updatedAt"`
	DeletedAt        string `json:"deletedAt,omitempty"`
}

type listResponse struct {
	Items []patientResponse `json:"items"`
	Next  string            `json:"next,omitempty"`
}

type auditEntry struct {
	At         string   `json:"at"`
	UserID     string   `json:"userId"`
	Role       string   `json:"role"`
	Action     string   `json:"action"`
	PatientIDs []string `json:"patientIds"`
	RequestID  string   `json:"requestId"`
	Outcome    string   `json:"outcome"`
	Detail     string   `json:"detail,omitempty"`
}

type auditResponse struct {
	Items []auditEntry `json:"items"`
	Next  string       `json:"next,omitempty"`
}

func toResponse(p patient.Patient) patientResponse {
	r := patientResponse{
		ID: p.ID, MRN: p.MRN, Name: p.Name, Email: p.Email, Phone: p.Phone, Gender: p.Gender, Address: p.Address,
		DateOfBirth:      p.DateOfBirth.Format(patient.DateLayout),
		RegisteredDate:   p.RegisteredDate.Format(patient.DateLayout),
		BillingAccountID: p.BillingAccountID,
		Version:          p.Version,
		CreatedAt:        p.CreatedAt.Format(time.RFC3339Nano),
		UpdatedAt:        p.UpdatedAt.Format(time.RFC3339Nano),
	}
	if p.Deleted() {
		r.DeletedAt = p.DeletedAt.Format(time.RFC3339Nano)
	}
	return r
}
