package billingapi_test

import (
	"context"
	"net/http"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
)

// refusingBilling answers every posting but a charge as billing-service
// answers bad input.
type refusingBilling struct{ fakeBilling }

func (*refusingBilling) PostPayment(context.Context, *billingv1.PostPaymentRequest, ...grpc.CallOption) (*billingv1.PostEntryResponse, error) {
	return nil, status.Error(codes.InvalidArgument, "invalid payment")
}

func (*refusingBilling) PostAdjustment(context.Context, *billingv1.PostAdjustmentRequest, ...grpc.CallOption) (*billingv1.PostEntryResponse, error) {
	return nil, status.Error(codes.InvalidArgument, "invalid adjustment")
}

func (*refusingBilling) ReverseEntry(context.Context, *billingv1.ReverseEntryRequest, ...grpc.CallOption) (*billingv1.PostEntryResponse, error) {
	return nil, status.Error(codes.InvalidArgument, "invalid reversal")
}

// FuzzPostings sends arbitrary bodies and keys to the four posting routes:
// nothing answers 5xx or panics, and a body that passes the gateway
// reaches billing-service. `go test` runs the seeds; `go test -fuzz
// FuzzPostings` explores.
func FuzzPostings(f *testing.F) {
	f.Add(uint8(0), charge, "k-1")
	f.Add(uint8(1), `{"amountMinor": 1e30, "method": "CASH"}`, "k")
	f.Add(uint8(1), `{"amountMinor": 100, "method": "CASH"}`, "k")
	f.Add(uint8(2), `{"type": "\u0000", "amountMinor": -1, "reason": "\xff"}`, "k")
	f.Add(uint8(3), `{"entryId": 7}`, "")
	f.Add(uint8(3), `{"entryId": "x", "reason": "y"}`, "k\x00")
	kinds := []string{"charges", "payments", "adjustments", "reversals"}
	f.Fuzz(func(t *testing.T, kind uint8, body, key string) {
		target := "/billing/accounts/" + acct + "/" + kinds[int(kind)%len(kinds)]
		rec := serve(t, &refusingBilling{}, http.MethodPost, target, body, map[string]string{"Idempotency-Key": key})
		if rec.Code >= 500 {
			t.Fatalf("POST %s %q (key %q): %d %s", target, body, key, rec.Code, rec.Body.String())
		}
	})
}
