package billingapi

import (
	"strings"

	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
)

// Amounts are JSON integers of minor units (amountMinor, unitPriceMinor,
// balanceMinor): a body with a fraction is refused, never rounded.

type chargeRequest struct {
	ServiceDate    string `json:"serviceDate"`
	Code           string `json:"code"`
	Description    string `json:"description"`
	Quantity       int64  `json:"quantity"`
	UnitPriceMinor int64  `json:"unitPriceMinor"`
}

type paymentRequest struct {
	AmountMinor int64  `json:"amountMinor"`
	Method      string `json:"method"`
	Reference   string `json:"reference,omitempty"`
}

type adjustmentRequest struct {
	Type        string `json:"type"`
	AmountMinor int64  `json:"amountMinor"`
	Reason      string `json:"reason"`
}

type reversalRequest struct {
	EntryID string `json:"entryId"`
	Reason  string `json:"reason"`
}

type account struct {
	ID              string `json:"id"`
	PatientID       string `json:"patientId"`
	Status          string `json:"status"`
	Currency        string `json:"currency"`
	MinorUnitDigits int32  `json:"minorUnitDigits"`
	BalanceMinor    int64  `json:"balanceMinor"`
	EntryCount      int64  `json:"entryCount"`
	Version         int64  `json:"version"`
	CreatedAt       string `json:"createdAt"`
	UpdatedAt       string `json:"updatedAt"`
}

type accountList struct {
	Items []account `json:"items"`
	Next  string    `json:"next,omitempty"`
}

type entry struct {
	ID                string `json:"id"`
	AccountID         string `json:"accountId"`
	Sequence          int64  `json:"sequence"`
	Kind              string `json:"kind"`
	AmountMinor       int64  `json:"amountMinor"`
	Currency          string `json:"currency"`
	BalanceAfterMinor int64  `json:"balanceAfterMinor"`
	PostedAt          string `json:"postedAt"`
	PostedBy          string `json:"postedBy"`
	ServiceDate       string `json:"serviceDate,omitempty"`
	Code              string `json:"code,omitempty"`
	Description       string `json:"description,omitempty"`
	Quantity          int64  `json:"quantity,omitempty"`
	UnitPriceMinor    int64  `json:"unitPriceMinor,omitempty"`
	Method            string `json:"method,omitempty"`
	Reference         string `json:"reference,omitempty"`
	AdjustmentType    string `json:"adjustmentType,omitempty"`
	Reason            string `json:"reason,omitempty"`
	Reverses          string `json:"reverses,omitempty"`
	ReversedBy        string `json:"reversedBy,omitempty"`
}

type entryList struct {
	Items []entry `json:"items"`
	Next  string  `json:"next,omitempty"`
}

type posted struct {
	Entry   entry   `json:"entry"`
	Account account `json:"account"`
}

type statement struct {
	Account               account `json:"account"`
	From                  string  `json:"from"`
	To                    string  `json:"to"`
	OpeningBalanceMinor   int64   `json:"openingBalanceMinor"`
	ClosingBalanceMinor   int64   `json:"closingBalanceMinor"`
	TotalChargesMinor     int64   `json:"totalChargesMinor"`
	TotalPaymentsMinor    int64   `json:"totalPaymentsMinor"`
	TotalAdjustmentsMinor int64   `json:"totalAdjustmentsMinor"`
	Entries               []entry `json:"entries"`
	GeneratedAt           string  `json:"generatedAt"`
}

type auditEntry struct {
	At         string   `json:"at"`
	UserID     string   `json:"userId"`
	Role       string   `json:"role"`
	Action     string   `json:"action"`
	AccountIDs []string `json:"accountIds"`
	EntryID    string   `json:"entryId,omitempty"`
	RequestID  string   `json:"requestId"`
	Outcome    string   `json:"outcome"`
}

type auditList struct {
	Items []auditEntry `json:"items"`
	Next  string       `json:"next,omitempty"`
}

func toAccount(a *billingv1.BillingAccount) account {
	return account{ID: a.GetAccountId(), PatientID: a.GetPatientId(), Status: enumName(a.GetStatus().String(), "ACCOUNT_STATUS_"),
		Currency: a.GetCurrency(), MinorUnitDigits: a.GetMinorUnitDigits(), BalanceMinor: a.GetBalanceMinor(),
		EntryCount: a.GetEntryCount(), Version: a.GetVersion(), CreatedAt: a.GetCreatedAt(), UpdatedAt: a.GetUpdatedAt()}
}

func toEntry(e *billingv1.LedgerEntry) entry {
	return entry{ID: e.GetEntryId(), AccountID: e.GetAccountId(), Sequence: e.GetSequence(),
		Kind: enumName(e.GetKind().String(), "ENTRY_KIND_"), AmountMinor: e.GetAmountMinor(), Currency: e.GetCurrency(),
		BalanceAfterMinor: e.GetBalanceAfterMinor(), PostedAt: e.GetPostedAt(), PostedBy: e.GetPostedBy(),
		ServiceDate: e.GetServiceDate(), Code: e.GetCode(), Description: e.GetDescription(), Quantity: e.GetQuantity(),
		UnitPriceMinor: e.GetUnitPriceMinor(), Method: enumName(e.GetMethod().String(), "PAYMENT_METHOD_"),
		Reference: e.GetReference(), AdjustmentType: enumName(e.GetAdjustmentType().String(), "ADJUSTMENT_TYPE_"),
		Reason: e.GetReason(), Reverses: e.GetReversesEntryId(), ReversedBy: e.GetReversedByEntryId()}
}

func toEntries(list []*billingv1.LedgerEntry) []entry {
	out := make([]entry, len(list))
	for i, e := range list {
		out[i] = toEntry(e)
	}
	return out
}

// enumName is a contract enum's name without its prefix ("" when
// unspecified).
func enumName(name, prefix string) string {
	s := strings.TrimPrefix(name, prefix)
	if s == "UNSPECIFIED" {
		return ""
	}
	return s
}

// method and adjustment read the API's names; an unknown one stays
// unspecified, which billing-service refuses naming the field.
func method(s string) billingv1.PaymentMethod {
	return billingv1.PaymentMethod(billingv1.PaymentMethod_value["PAYMENT_METHOD_"+s])
}

func adjustment(s string) billingv1.AdjustmentType {
	return billingv1.AdjustmentType(billingv1.AdjustmentType_value["ADJUSTMENT_TYPE_"+s])
}
