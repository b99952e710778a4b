package patientapi

import (
	"github.com/pms-dapr/pms/apps/patient-service/internal/patient"
)

type patientRequest struct {
	Name           string `json:"name"`
	Email          string `json:"email"`
	Address        string `json:"address"`
	DateOfBirth    string `json:"dateOfBirth"`
	RegisteredDate string `json:"registeredDate"`
}

func (b patientRequest) draft() patient.Draft {
	return patient.Draft{Name: b.Name, Email: b.Email, Address: b.Address,
		DateOfBirth: b.DateOfBirth, RegisteredDate: b.RegisteredDate}
}

type patientResponse struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Email            string `json:"email"`
	Address          string `json:"address"`
	DateOfBirth      string `json:"dateOfBirth"`
	RegisteredDate   string `json:"registeredDate"`
	BillingAccountID string `json:"billingAccountId,omitempty"`
}

type listResponse struct {
	Items []patientResponse `json:"items"`
}

func toResponse(p patient.Patient) patientResponse {
	return patientResponse{
		ID: p.ID, Name: p.Name, Email: p.Email, Address: p.Address,
		DateOfBirth:      p.DateOfBirth.Format(patient.DateLayout),
		RegisteredDate:   p.RegisteredDate.Format(patient.DateLayout),
		BillingAccountID: p.BillingAccountID,
	}
}
