// Package billinggrpc serves the pms.billing.v1.BillingService gRPC API.
package billinggrpc

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pms-dapr/pms/apps/billing-service/internal/billing"
	"github.com/pms-dapr/pms/platform/fault"
	"github.com/pms-dapr/pms/platform/validation"
	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
)

// Server implements billingv1.BillingServiceServer.
type Server struct {
	billingv1.UnimplementedBillingServiceServer
	svc *billing.Service
	log *slog.Logger
}

// NewServer returns a Server over svc.
func NewServer(svc *billing.Service, log *slog.Logger) *Server { return &Server{svc: svc, log: log} }

// CreateBillingAccount opens the patient's account or returns the existing one.
func (s *Server) CreateBillingAccount(ctx context.Context, req *billingv1.CreateBillingAccountRequest) (*billingv1.CreateBillingAccountResponse, error) {
	a, created, err := s.svc.Open(ctx, req.GetPatientId(), req.GetName(), req.GetEmail())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	if created {
		s.log.InfoContext(ctx, "billing account opened", "patient_id", a.PatientID, "account_id", a.ID)
	}
	return &billingv1.CreateBillingAccountResponse{AccountId: a.ID, Status: toProtoStatus(a.Status), Created: created}, nil
}

// GetBillingAccount returns the patient's account.
func (s *Server) GetBillingAccount(ctx context.Context, req *billingv1.GetBillingAccountRequest) (*billingv1.GetBillingAccountResponse, error) {
	a, err := s.svc.Get(ctx, req.GetPatientId())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &billingv1.GetBillingAccountResponse{Account: &billingv1.BillingAccount{
		AccountId: a.ID, PatientId: a.PatientID, Name: a.Name, Email: a.Email,
		Status: toProtoStatus(a.Status), CreatedAt: a.CreatedAt.Format(time.RFC3339),
	}}, nil
}

// status maps domain errors to gRPC status codes; invalid input carries a
// BadRequest detail naming each field.
func (s *Server) status(ctx context.Context, err error) error {
	var inv *validation.Error
	switch {
	case errors.As(err, &inv):
		br := &errdetails.BadRequest{}
		for _, f := range inv.Fields {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: f.Field, Description: f.Message})
		}
		st, derr := status.New(codes.InvalidArgument, inv.Error()).WithDetails(br)
		if derr != nil {
			return status.Error(codes.InvalidArgument, inv.Error())
		}
		return st.Err()
	case errors.Is(err, billing.ErrNotFound):
		return status.Error(codes.NotFound, "no billing account for this patient")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	case errors.Is(err, fault.ErrUnavailable):
		s.log.WarnContext(ctx, "database unavailable", "err", err)
		return status.Error(codes.Unavailable, "the billing database is unavailable; retry shortly")
	default:
		s.log.ErrorContext(ctx, "billing request failed", "err", err)
		return status.Error(codes.Internal, "billing request failed")
	}
}

func toProtoStatus(st billing.Status) billingv1.AccountStatus {
	switch st {
	case billing.StatusActive:
		return billingv1.AccountStatus_ACCOUNT_STATUS_ACTIVE
	case billing.StatusClosed:
		return billingv1.AccountStatus_ACCOUNT_STATUS_CLOSED
	}
	return billingv1.AccountStatus_ACCOUNT_STATUS_UNSPECIFIED
}
