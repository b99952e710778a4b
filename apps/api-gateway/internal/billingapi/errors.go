package billingapi

import (
	"log/slog"
	"net/http"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pms-dapr/pms/platform/authn"
	"github.com/pms-dapr/pms/platform/problem"
)

// writeError answers a failed billing call as problem+json: invalid input
// names its fields (400), a refusal by the account's state names the
// status (409), and billing-service or its sidecar being unreachable is
// 503 with Retry-After. Nothing is answered 500.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	st := status.Convert(err)
	var info *errdetails.ErrorInfo
	var fields []problem.FieldError
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				fields = append(fields, problem.FieldError{Field: jsonName(v.GetField()), Message: v.GetDescription()})
			}
		}
	}
	switch st.Code() {
	case codes.InvalidArgument:
		if len(fields) == 0 {
			problem.Write(w, r, problem.New(http.StatusBadRequest, st.Message()))
			return
		}
		problem.Write(w, r, problem.Validation(fields))
	case codes.NotFound:
		problem.Write(w, r, problem.New(http.StatusNotFound, upper(st.Message())+"."))
	case codes.FailedPrecondition:
		if info != nil && info.GetReason() == "VERSION_MISMATCH" {
			problem.Write(w, r, problem.New(http.StatusPreconditionFailed, "The account changed since you read it; read it again and retry with its new ETag."))
			return
		}
		d := problem.New(http.StatusConflict, upper(st.Message())+".")
		if info != nil && info.GetMetadata()["status"] != "" {
			d.Errors = []problem.FieldError{{Field: "status", Message: "the account is " + info.GetMetadata()["status"]}}
		}
		problem.Write(w, r, d)
	case codes.AlreadyExists:
		d := problem.New(http.StatusUnprocessableEntity, "This Idempotency-Key was used for a different posting; use a new key for a new posting.")
		d.Errors = []problem.FieldError{{Field: "Idempotency-Key", Message: "was used for a different posting"}}
		problem.Write(w, r, d)
	case codes.PermissionDenied:
		authn.Forbidden(w, r)
	case codes.Unauthenticated:
		authn.Unauthorized(w, r)
	case codes.Canceled:
		// The client went away; nobody reads the answer.
		problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "The request was cancelled."))
	default: // Unavailable, DeadlineExceeded, Internal, Unknown, …: the dependency failed
		log.WarnContext(r.Context(), "billing-service call failed", "code", st.Code().String(), "err", st.Message())
		problem.WriteUnavailable(w, r, 2, "Billing is unavailable; try again shortly.")
	}
}

// jsonName is the API's name of a contract field: amount_minor is
// amountMinor (headers such as Idempotency-Key stay as they are).
func jsonName(field string) string {
	parts := strings.Split(field, "_")
	for i := 1; i < len(parts); i++ {
		parts[i] = upper(parts[i])
	}
	return strings.Join(parts, "")
}

func upper(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
