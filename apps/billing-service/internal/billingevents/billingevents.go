// Package billingevents encodes billing-service's events for the outbox
// (platform/outbox relays them) and maps the domain's values to and from
// the contract's enums (proto/billing/v1), which the gRPC API shares.
package billingevents

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pms-dapr/pms/apps/billing-service/internal/billing"
	"github.com/pms-dapr/pms/platform/outbox"
	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
)

// Topic is the pub/sub topic billing events go to; CloudEventType their
// CloudEvent type.
const (
	Topic          = "billing"
	CloudEventType = "pms.billing.v1.BillingEvent"
)

// Encode renders ev as the message the topic carries: the protojson
// BillingEvent (proto/billing/v1/events.proto), keyed by the account so
// one account's events keep their order. It carries amounts, kinds and
// identifiers; never a charge's code or description, a payment's reference
// or a reason, which can say more about a patient than consumers need.
func Encode(ev billing.Event) (outbox.Message, error) {
	a := ev.Account
	msg := &billingv1.BillingEvent{
		EventId:        ev.ID,
		Type:           billingv1.BillingEventType(billingv1.BillingEventType_value[string(ev.Type)]),
		AccountId:      a.ID,
		OccurredAt:     timestamppb.New(ev.OccurredAt),
		AccountVersion: a.Version,
		Status:         ProtoStatus(a.Status),
		BalanceMinor:   a.Balance,
		Currency:       a.Currency,
	}
	if msg.Type == billingv1.BillingEventType_BILLING_EVENT_TYPE_UNSPECIFIED {
		return outbox.Message{}, fmt.Errorf("billingevents.encode: unknown event type %q", ev.Type)
	}
	if e := ev.Entry; e != nil {
		msg.Entry = &billingv1.PostedEntry{EntryId: e.ID, Kind: ProtoKind(e.Kind), AmountMinor: e.Amount,
			Currency: e.Currency, AdjustmentType: ProtoAdjustment(e.AdjustmentType)}
	}
	b, err := protojson.Marshal(msg)
	if err != nil {
		return outbox.Message{}, fmt.Errorf("billingevents.encode: %w", err)
	}
	return outbox.Message{EventID: ev.ID, Topic: Topic, Key: a.ID, Payload: string(b)}, nil
}

// ProtoStatus is s in the contract's enum.
func ProtoStatus(s billing.Status) billingv1.AccountStatus {
	return toEnum[billingv1.AccountStatus](billingv1.AccountStatus_value, "ACCOUNT_STATUS_", string(s))
}

// StatusOf is the domain status of a contract enum value ("" for
// unspecified).
func StatusOf(s billingv1.AccountStatus) billing.Status {
	return billing.Status(fromEnum(s, "ACCOUNT_STATUS_"))
}

// ProtoKind is k in the contract's enum.
func ProtoKind(k billing.Kind) billingv1.EntryKind {
	return toEnum[billingv1.EntryKind](billingv1.EntryKind_value, "ENTRY_KIND_", string(k))
}

// ProtoAdjustment is t in the contract's enum.
func ProtoAdjustment(t billing.AdjustmentType) billingv1.AdjustmentType {
	return toEnum[billingv1.AdjustmentType](billingv1.AdjustmentType_value, "ADJUSTMENT_TYPE_", string(t))
}

// AdjustmentOf is the domain type of a contract enum value.
func AdjustmentOf(t billingv1.AdjustmentType) billing.AdjustmentType {
	return billing.AdjustmentType(fromEnum(t, "ADJUSTMENT_TYPE_"))
}

// ProtoMethod is m in the contract's enum.
func ProtoMethod(m billing.Method) billingv1.PaymentMethod {
	return toEnum[billingv1.PaymentMethod](billingv1.PaymentMethod_value, "PAYMENT_METHOD_", string(m))
}

// MethodOf is the domain method of a contract enum value.
func MethodOf(m billingv1.PaymentMethod) billing.Method {
	return billing.Method(fromEnum(m, "PAYMENT_METHOD_"))
}

// toEnum is the contract enum value named prefix+name (0, unspecified,
// when there is none).
func toEnum[E ~int32](values map[string]int32, prefix, name string) E {
	return E(values[prefix+name])
}

// fromEnum is the name of a contract enum value without its prefix ("" for
// the unspecified value, 0).
func fromEnum[E interface {
	~int32
	String() string
}](v E, prefix string) string {
	if v == 0 {
		return ""
	}
	name, _ := strings.CutPrefix(v.String(), prefix)
	return name
}
