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
	"github.com/pms-dapr/pms/apps/billing-service/internal/billingevents"
	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/fault"
	"github.com/pms-dapr/pms/platform/requestid"
	"github.com/pms-dapr/pms/platform/validation"
	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
)

// ErrorDomain is the domain of the ErrorInfo details this API sends.
const ErrorDomain = "billing.pms"

// Reasons of FAILED_PRECONDITION answers (ErrorInfo.reason).
const (
	ReasonOnHold           = "ACCOUNT_ON_HOLD"
	ReasonClosed           = "ACCOUNT_CLOSED"
	ReasonAlreadyReversed  = "ALREADY_REVERSED"
	ReasonReverseReversal  = "REVERSAL_NOT_REVERSIBLE"
	ReasonStatusUnchanged  = "STATUS_UNCHANGED"
	ReasonIdempotencyReuse = "IDEMPOTENCY_KEY_REUSED"
	ReasonVersionMismatch  = "VERSION_MISMATCH"
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
	a, created, err := s.svc.Open(ctx, req.GetPatientId())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	if created {
		s.log.InfoContext(ctx, "billing account opened", "patient_id", a.PatientID, "account_id", a.ID)
	}
	return &billingv1.CreateBillingAccountResponse{AccountId: a.ID, Status: billingevents.ProtoStatus(a.Status), Created: created}, nil
}

// CreateBillingAccounts opens the accounts of many patients at once.
func (s *Server) CreateBillingAccounts(ctx context.Context, req *billingv1.CreateBillingAccountsRequest) (*billingv1.CreateBillingAccountsResponse, error) {
	accounts, created, err := s.svc.OpenMany(ctx, req.GetPatientIds())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	out := &billingv1.CreateBillingAccountsResponse{Accounts: make([]*billingv1.CreateBillingAccountResponse, len(accounts))}
	opened := 0
	for i, a := range accounts {
		out.Accounts[i] = &billingv1.CreateBillingAccountResponse{AccountId: a.ID, Status: billingevents.ProtoStatus(a.Status), Created: created[i]}
		if created[i] {
			opened++
		}
	}
	s.log.InfoContext(ctx, "billing accounts opened", "asked", len(accounts), "opened", opened)
	return out, nil
}

// GetBillingAccount returns the patient's account.
func (s *Server) GetBillingAccount(ctx context.Context, req *billingv1.GetBillingAccountRequest) (*billingv1.GetBillingAccountResponse, error) {
	a, err := s.svc.GetByPatient(ctx, req.GetPatientId())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &billingv1.GetBillingAccountResponse{Account: Account(a)}, nil
}

// ListAccounts pages through accounts.
func (s *Server) ListAccounts(ctx context.Context, req *billingv1.ListAccountsRequest) (*billingv1.ListAccountsResponse, error) {
	list, next, err := s.svc.List(ctx, actor(ctx), req.GetPatientId(), string(billingevents.StatusOf(req.GetStatus())), int(req.GetLimit()), req.GetCursor())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	out := &billingv1.ListAccountsResponse{NextCursor: next, Accounts: make([]*billingv1.BillingAccount, len(list))}
	for i, a := range list {
		out.Accounts[i] = Account(a)
	}
	return out, nil
}

// GetAccount returns one account.
func (s *Server) GetAccount(ctx context.Context, req *billingv1.GetAccountRequest) (*billingv1.GetAccountResponse, error) {
	a, err := s.svc.Get(ctx, actor(ctx), req.GetAccountId())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &billingv1.GetAccountResponse{Account: Account(a)}, nil
}

// ListEntries pages through an account's ledger.
func (s *Server) ListEntries(ctx context.Context, req *billingv1.ListEntriesRequest) (*billingv1.ListEntriesResponse, error) {
	list, next, err := s.svc.Entries(ctx, actor(ctx), req.GetAccountId(), int(req.GetLimit()), req.GetCursor())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &billingv1.ListEntriesResponse{Entries: entries(list), NextCursor: next}, nil
}

// GetEntry returns one entry.
func (s *Server) GetEntry(ctx context.Context, req *billingv1.GetEntryRequest) (*billingv1.GetEntryResponse, error) {
	e, err := s.svc.Entry(ctx, actor(ctx), req.GetAccountId(), req.GetEntryId())
	if errors.Is(err, billing.ErrEntryNotFound) {
		return nil, status.Error(codes.NotFound, "no such entry on this account")
	}
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &billingv1.GetEntryResponse{Entry: Entry(e)}, nil
}

// PostCharge appends a charge.
func (s *Server) PostCharge(ctx context.Context, req *billingv1.PostChargeRequest) (*billingv1.PostEntryResponse, error) {
	return s.posted(ctx)(s.svc.PostCharge(ctx, actor(ctx), req.GetAccountId(), req.GetIdempotencyKey(), billing.Charge{
		ServiceDate: req.GetServiceDate(), Code: req.GetCode(), Description: req.GetDescription(),
		Quantity: req.GetQuantity(), UnitPrice: req.GetUnitPriceMinor(),
	}))
}

// PostPayment appends a payment.
func (s *Server) PostPayment(ctx context.Context, req *billingv1.PostPaymentRequest) (*billingv1.PostEntryResponse, error) {
	return s.posted(ctx)(s.svc.PostPayment(ctx, actor(ctx), req.GetAccountId(), req.GetIdempotencyKey(), billing.Payment{
		Amount: req.GetAmountMinor(), Method: billingevents.MethodOf(req.GetMethod()), Reference: req.GetReference(),
	}))
}

// PostAdjustment appends an adjustment.
func (s *Server) PostAdjustment(ctx context.Context, req *billingv1.PostAdjustmentRequest) (*billingv1.PostEntryResponse, error) {
	return s.posted(ctx)(s.svc.PostAdjustment(ctx, actor(ctx), req.GetAccountId(), req.GetIdempotencyKey(), billing.Adjustment{
		Type: billingevents.AdjustmentOf(req.GetType()), Amount: req.GetAmountMinor(), Reason: req.GetReason(),
	}))
}

// ReverseEntry appends a reversal.
func (s *Server) ReverseEntry(ctx context.Context, req *billingv1.ReverseEntryRequest) (*billingv1.PostEntryResponse, error) {
	return s.posted(ctx)(s.svc.ReverseEntry(ctx, actor(ctx), req.GetAccountId(), req.GetIdempotencyKey(), billing.Reversal{
		EntryID: req.GetEntryId(), Reason: req.GetReason(),
	}))
}

func (s *Server) posted(ctx context.Context) func(billing.Entry, billing.Account, bool, error) (*billingv1.PostEntryResponse, error) {
	return func(e billing.Entry, a billing.Account, replayed bool, err error) (*billingv1.PostEntryResponse, error) {
		if err != nil {
			return nil, s.status(ctx, err)
		}
		return &billingv1.PostEntryResponse{Entry: Entry(e), Account: Account(a), Replayed: replayed}, nil
	}
}

// ChangeAccountStatus holds, releases or closes an account.
func (s *Server) ChangeAccountStatus(ctx context.Context, req *billingv1.ChangeAccountStatusRequest) (*billingv1.GetAccountResponse, error) {
	act := billing.StatusAction(map[billingv1.StatusAction]string{
		billingv1.StatusAction_STATUS_ACTION_HOLD: "HOLD", billingv1.StatusAction_STATUS_ACTION_RELEASE: "RELEASE",
		billingv1.StatusAction_STATUS_ACTION_CLOSE: "CLOSE",
	}[req.GetAction()])
	a, err := s.svc.ChangeStatus(ctx, actor(ctx), req.GetAccountId(), act, req.GetExpectedVersion())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &billingv1.GetAccountResponse{Account: Account(a)}, nil
}

// GetStatement returns a statement.
func (s *Server) GetStatement(ctx context.Context, req *billingv1.GetStatementRequest) (*billingv1.GetStatementResponse, error) {
	st, err := s.svc.Statement(ctx, actor(ctx), req.GetAccountId(), req.GetFrom(), req.GetTo())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	out := &billingv1.GetStatementResponse{Account: Account(st.Account), From: st.From, To: st.To,
		OpeningBalanceMinor: st.Opening, ClosingBalanceMinor: st.Closing, Entries: entries(st.Entries),
		TotalChargesMinor: st.Charges, TotalPaymentsMinor: st.Payments, TotalAdjustmentsMinor: st.Adjustments,
		GeneratedAt: st.GeneratedAt.Format(time.RFC3339)}
	return out, nil
}

// ListAudit pages through an account's audit trail.
func (s *Server) ListAudit(ctx context.Context, req *billingv1.ListAuditRequest) (*billingv1.ListAuditResponse, error) {
	list, next, err := s.svc.Audit(ctx, actor(ctx), req.GetAccountId(), int(req.GetLimit()), req.GetCursor())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	out := &billingv1.ListAuditResponse{NextCursor: next, Entries: make([]*billingv1.AuditEntry, len(list))}
	for i, e := range list {
		out.Entries[i] = &billingv1.AuditEntry{At: e.At.Format(time.RFC3339Nano), UserId: e.UserID, Role: e.Role,
			Action: e.Action, AccountIds: e.AccountIDs, EntryId: e.EntryID, RequestId: e.RequestID, Outcome: e.Outcome}
	}
	return out, nil
}

// actor is the caller Authenticate verified (none on the service methods,
// which the domain then refuses by role).
func actor(ctx context.Context) billing.Actor {
	id, _ := authn.FromContext(ctx)
	return billing.Actor{UserID: id.Subject, Role: id.Role, RequestID: requestid.From(ctx)}
}

// Account is a, in the contract's form.
func Account(a billing.Account) *billingv1.BillingAccount {
	return &billingv1.BillingAccount{AccountId: a.ID, PatientId: a.PatientID, Status: billingevents.ProtoStatus(a.Status),
		CreatedAt: a.CreatedAt.Format(time.RFC3339Nano), UpdatedAt: a.UpdatedAt.Format(time.RFC3339Nano),
		Currency: a.Currency, BalanceMinor: a.Balance, Version: a.Version, EntryCount: a.EntryCount,
		MinorUnitDigits: int32(billing.MinorUnitDigits(a.Currency))}
}

// Entry is e, in the contract's form.
func Entry(e billing.Entry) *billingv1.LedgerEntry {
	return &billingv1.LedgerEntry{EntryId: e.ID, AccountId: e.AccountID, Sequence: e.Sequence, Kind: billingevents.ProtoKind(e.Kind),
		AmountMinor: e.Amount, Currency: e.Currency, BalanceAfterMinor: e.BalanceAfter,
		PostedAt: e.PostedAt.Format(time.RFC3339Nano), PostedBy: e.PostedBy, ServiceDate: e.ServiceDate, Code: e.Code,
		Description: e.Description, Quantity: e.Quantity, UnitPriceMinor: e.UnitPrice, Method: billingevents.ProtoMethod(e.Method),
		Reference: e.Reference, AdjustmentType: billingevents.ProtoAdjustment(e.AdjustmentType), Reason: e.Reason,
		ReversesEntryId: e.Reverses, ReversedByEntryId: e.ReversedBy}
}

func entries(list []billing.Entry) []*billingv1.LedgerEntry {
	out := make([]*billingv1.LedgerEntry, len(list))
	for i, e := range list {
		out[i] = Entry(e)
	}
	return out
}

// status maps domain errors to gRPC status codes. Invalid input carries a
// BadRequest naming each field; a refusal by the account's state an
// ErrorInfo whose reason says which.
func (s *Server) status(ctx context.Context, err error) error {
	var inv *validation.Error
	var serr *billing.StatusError
	switch {
	case errors.As(err, &inv):
		return badRequest(inv)
	case errors.As(err, &serr):
		reason := ReasonOnHold
		if serr.Status == billing.StatusClosed {
			reason = ReasonClosed
		}
		return withInfo(codes.FailedPrecondition, serr.Error(), reason, string(serr.Status))
	case errors.Is(err, billing.ErrEntryNotFound):
		return badRequest(validation.Field("reversal", "entry_id", "no entry with this id on this account"))
	case errors.Is(err, billing.ErrNotFound):
		return status.Error(codes.NotFound, "no such billing account")
	case errors.Is(err, billing.ErrAlreadyReversed):
		return withInfo(codes.FailedPrecondition, err.Error(), ReasonAlreadyReversed, "")
	case errors.Is(err, billing.ErrReverseReversal):
		return withInfo(codes.FailedPrecondition, err.Error(), ReasonReverseReversal, "")
	case errors.Is(err, billing.ErrNoChange):
		return withInfo(codes.FailedPrecondition, err.Error(), ReasonStatusUnchanged, "")
	case errors.Is(err, billing.ErrVersionMismatch):
		// Not ABORTED: the sidecars retry that code (resiliency.yaml), and
		// a stale version stays stale.
		return withInfo(codes.FailedPrecondition, "the account changed since it was read; read it again", ReasonVersionMismatch, "")
	case errors.Is(err, billing.ErrIdempotencyMismatch):
		return withInfo(codes.AlreadyExists, "this Idempotency-Key was used for a different posting", ReasonIdempotencyReuse, "")
	case errors.Is(err, billing.ErrForbidden):
		return status.Error(codes.PermissionDenied, "your role does not allow this")
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

func badRequest(inv *validation.Error) error {
	br := &errdetails.BadRequest{}
	for _, f := range inv.Fields {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: f.Field, Description: f.Message})
	}
	st, derr := status.New(codes.InvalidArgument, inv.Error()).WithDetails(br)
	if derr != nil {
		return status.Error(codes.InvalidArgument, inv.Error())
	}
	return st.Err()
}

func withInfo(code codes.Code, msg, reason, accountStatus string) error {
	info := &errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain}
	if accountStatus != "" {
		info.Metadata = map[string]string{"status": accountStatus}
	}
	st, derr := status.New(code, msg).WithDetails(info)
	if derr != nil {
		return status.Error(code, msg)
	}
	return st.Err()
}
