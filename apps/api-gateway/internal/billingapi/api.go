package billingapi

import (
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/pms-dapr/pms/platform/httpserver"
	"github.com/pms-dapr/pms/platform/jsonbody"
	"github.com/pms-dapr/pms/platform/problem"
	"github.com/pms-dapr/pms/platform/validation"
	billingv1 "github.com/pms-dapr/pms/proto/billing/v1"
)

// MaxBodyBytes bounds a posting's body.
const MaxBodyBytes = 16 << 10

// Handler serves /billing by calling billing-service.
type Handler struct {
	Client billingv1.BillingServiceClient
	AppID  string // billing-service's Dapr app id
	// DaprAPIToken is the gateway's sidecar token ("" beside a sidecar
	// without one).
	DaprAPIToken string
	Log          *slog.Logger
}

// Route is one billing route and who may call it (the gateway checks the
// role; billing-service checks it again and audits the call).
type Route struct {
	Method, Pattern string
	Roles           []string
	Handle          http.HandlerFunc
}

// Routes lists the billing API. Roles: clinicians find accounts and post
// charges; billing staff do everything on accounts; admins too, and read
// the audit trail.
func (h *Handler) Routes(admin, billingStaff, clinician string) []Route {
	all := []string{admin, billingStaff, clinician}
	staff := []string{admin, billingStaff}
	return []Route{
		{"GET", "/billing/accounts", all, h.list},
		{"GET", "/billing/accounts/{id}", all, h.get},
		{"GET", "/billing/accounts/{id}/entries", staff, h.entries},
		{"GET", "/billing/accounts/{id}/entries/{entryId}", staff, h.entry},
		{"POST", "/billing/accounts/{id}/charges", all, h.charge},
		{"POST", "/billing/accounts/{id}/payments", staff, h.payment},
		{"POST", "/billing/accounts/{id}/adjustments", staff, h.adjustment},
		{"POST", "/billing/accounts/{id}/reversals", staff, h.reversal},
		{"POST", "/billing/accounts/{id}/hold", staff, h.status(billingv1.StatusAction_STATUS_ACTION_HOLD)},
		{"POST", "/billing/accounts/{id}/release", staff, h.status(billingv1.StatusAction_STATUS_ACTION_RELEASE)},
		{"POST", "/billing/accounts/{id}/close", staff, h.status(billingv1.StatusAction_STATUS_ACTION_CLOSE)},
		{"GET", "/billing/accounts/{id}/statement", staff, h.statement},
		{"GET", "/billing/accounts/{id}/audit", []string{admin}, h.audit},
	}
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, h.Log, err)
}

// accountID is the route's {id}: a UUID (else 404, as for a path that
// names nothing).
func accountID(w http.ResponseWriter, r *http.Request, param string) (string, bool) {
	id, err := uuid.Parse(chi.URLParam(r, param))
	if err != nil || len(chi.URLParam(r, param)) != 36 {
		problem.NotFound(w, r)
		return "", false
	}
	return id.String(), true
}

// queryProblems names the parameters of q that are not in known, or hold
// text that is not acceptable (validation.TextProblem: a gRPC message
// cannot carry invalid UTF-8).
func queryProblems(q url.Values, known ...string) []problem.FieldError {
	var bad []problem.FieldError
	for k, vs := range q {
		if !slices.Contains(known, k) {
			bad = append(bad, problem.FieldError{Field: k, Message: "is not a parameter of this resource"})
			continue
		}
		for _, v := range vs {
			if msg := validation.TextProblem(v, 0); msg != "" {
				bad = append(bad, problem.FieldError{Field: k, Message: msg})
				break
			}
		}
	}
	slices.SortFunc(bad, func(a, b problem.FieldError) int { return strings.Compare(a.Field, b.Field) })
	return bad
}

// pageParams reads limit and cursor; only known parameters are accepted.
func pageParams(w http.ResponseWriter, r *http.Request, known ...string) (url.Values, int32, bool) {
	q := r.URL.Query()
	bad := queryProblems(q, append(known, "limit", "cursor")...)
	var limit int64
	if v := q.Get("limit"); v != "" && len(bad) == 0 {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			bad = append(bad, problem.FieldError{Field: "limit", Message: "must be a whole number"})
		}
		limit = n
	}
	if len(bad) > 0 {
		problem.Write(w, r, problem.Validation(bad))
		return nil, 0, false
	}
	return q, int32(limit), true
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	q, limit, ok := pageParams(w, r, "patientId", "status")
	if !ok {
		return
	}
	st := billingv1.AccountStatus_ACCOUNT_STATUS_UNSPECIFIED
	if v := q.Get("status"); v != "" {
		n, ok := billingv1.AccountStatus_value["ACCOUNT_STATUS_"+v]
		if !ok || n == 0 {
			problem.Write(w, r, problem.Validation([]problem.FieldError{{Field: "status", Message: "must be ACTIVE, ON_HOLD or CLOSED"}}))
			return
		}
		st = billingv1.AccountStatus(n)
	}
	resp, err := h.Client.ListAccounts(Outgoing(r, h.AppID, h.DaprAPIToken), &billingv1.ListAccountsRequest{
		PatientId: q.Get("patientId"), Status: st, Limit: limit, Cursor: q.Get("cursor")})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := accountList{Items: make([]account, len(resp.GetAccounts()))}
	for i, a := range resp.GetAccounts() {
		out.Items[i] = toAccount(a)
	}
	if resp.GetNextCursor() != "" {
		out.Next = nextLink(r, resp.GetNextCursor())
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}

// nextLink is the request's URL with cursor set to the next page's.
func nextLink(r *http.Request, cursor string) string {
	q := r.URL.Query()
	q.Set("cursor", cursor)
	return r.URL.Path + "?" + q.Encode()
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	id, ok := accountID(w, r, "id")
	if !ok {
		return
	}
	resp, err := h.Client.GetAccount(Outgoing(r, h.AppID, h.DaprAPIToken), &billingv1.GetAccountRequest{AccountId: id})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeAccount(w, http.StatusOK, resp.GetAccount())
}

func writeAccount(w http.ResponseWriter, status int, a *billingv1.BillingAccount) {
	w.Header().Set("ETag", httpserver.ETag(a.GetVersion()))
	httpserver.WriteJSON(w, status, toAccount(a))
}

// accountPage reads an account's {id} and the page's limit and cursor.
func accountPage(w http.ResponseWriter, r *http.Request) (id string, limit int32, cursor string, ok bool) {
	if id, ok = accountID(w, r, "id"); !ok {
		return "", 0, "", false
	}
	q, limit, ok := pageParams(w, r)
	return id, limit, q.Get("cursor"), ok
}

func (h *Handler) entries(w http.ResponseWriter, r *http.Request) {
	id, limit, cursor, ok := accountPage(w, r)
	if !ok {
		return
	}
	resp, err := h.Client.ListEntries(Outgoing(r, h.AppID, h.DaprAPIToken), &billingv1.ListEntriesRequest{
		AccountId: id, Limit: limit, Cursor: cursor})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := entryList{Items: toEntries(resp.GetEntries())}
	if resp.GetNextCursor() != "" {
		out.Next = nextLink(r, resp.GetNextCursor())
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) entry(w http.ResponseWriter, r *http.Request) {
	id, ok := accountID(w, r, "id")
	if !ok {
		return
	}
	entryID, ok := accountID(w, r, "entryId")
	if !ok {
		return
	}
	resp, err := h.Client.GetEntry(Outgoing(r, h.AppID, h.DaprAPIToken), &billingv1.GetEntryRequest{AccountId: id, EntryId: entryID})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, toEntry(resp.GetEntry()))
}

// posting reads a posting's body into body and its Idempotency-Key, then
// answers with what call returns: 201 with the entry's Location (a retry
// of an earlier posting answers the same, marked Idempotent-Replayed).
func (h *Handler) posting(w http.ResponseWriter, r *http.Request, body any, call func(id, key string) (*billingv1.PostEntryResponse, error)) {
	id, ok := accountID(w, r, "id")
	if !ok {
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 || strings.ContainsFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		problem.Write(w, r, problem.Validation([]problem.FieldError{{Field: "Idempotency-Key", Message: "must be 1 to 255 visible ASCII characters"}}))
		return
	}
	if key == "" {
		problem.Write(w, r, problem.Validation([]problem.FieldError{{Field: "Idempotency-Key",
			Message: "is required: send a new unique key (a UUID) with each posting, and the same key when you retry it"}}))
		return
	}
	if !jsonbody.Decode(w, r, body, MaxBodyBytes) {
		return
	}
	resp, err := call(id, key)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if resp.GetReplayed() {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	e := resp.GetEntry()
	w.Header().Set("Location", "/billing/accounts/"+id+"/entries/"+e.GetEntryId())
	httpserver.WriteJSON(w, http.StatusCreated, posted{Entry: toEntry(e), Account: toAccount(resp.GetAccount())})
}

func (h *Handler) charge(w http.ResponseWriter, r *http.Request) {
	var b chargeRequest
	h.posting(w, r, &b, func(id, key string) (*billingv1.PostEntryResponse, error) {
		return h.Client.PostCharge(Outgoing(r, h.AppID, h.DaprAPIToken), &billingv1.PostChargeRequest{AccountId: id,
			IdempotencyKey: key, ServiceDate: b.ServiceDate, Code: b.Code, Description: b.Description,
			Quantity: b.Quantity, UnitPriceMinor: b.UnitPriceMinor})
	})
}

func (h *Handler) payment(w http.ResponseWriter, r *http.Request) {
	var b paymentRequest
	h.posting(w, r, &b, func(id, key string) (*billingv1.PostEntryResponse, error) {
		return h.Client.PostPayment(Outgoing(r, h.AppID, h.DaprAPIToken), &billingv1.PostPaymentRequest{AccountId: id,
			IdempotencyKey: key, AmountMinor: b.AmountMinor, Method: method(b.Method), Reference: b.Reference})
	})
}

func (h *Handler) adjustment(w http.ResponseWriter, r *http.Request) {
	var b adjustmentRequest
	h.posting(w, r, &b, func(id, key string) (*billingv1.PostEntryResponse, error) {
		return h.Client.PostAdjustment(Outgoing(r, h.AppID, h.DaprAPIToken), &billingv1.PostAdjustmentRequest{AccountId: id,
			IdempotencyKey: key, Type: adjustment(b.Type), AmountMinor: b.AmountMinor, Reason: b.Reason})
	})
}

func (h *Handler) reversal(w http.ResponseWriter, r *http.Request) {
	var b reversalRequest
	h.posting(w, r, &b, func(id, key string) (*billingv1.PostEntryResponse, error) {
		return h.Client.ReverseEntry(Outgoing(r, h.AppID, h.DaprAPIToken), &billingv1.ReverseEntryRequest{AccountId: id,
			IdempotencyKey: key, EntryId: b.EntryID, Reason: b.Reason})
	})
}

// status changes the account's status if it is still at the version
// If-Match names (428 without one).
func (h *Handler) status(action billingv1.StatusAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := accountID(w, r, "id")
		if !ok {
			return
		}
		version, ok := httpserver.IfMatch(w, r)
		if !ok {
			return
		}
		resp, err := h.Client.ChangeAccountStatus(Outgoing(r, h.AppID, h.DaprAPIToken), &billingv1.ChangeAccountStatusRequest{
			AccountId: id, Action: action, ExpectedVersion: version})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeAccount(w, http.StatusOK, resp.GetAccount())
	}
}

func (h *Handler) statement(w http.ResponseWriter, r *http.Request) {
	id, ok := accountID(w, r, "id")
	if !ok {
		return
	}
	q := r.URL.Query()
	bad := queryProblems(q, "from", "to")
	for _, k := range []string{"from", "to"} {
		if q.Get(k) == "" {
			bad = append(bad, problem.FieldError{Field: k, Message: "is required: a date, YYYY-MM-DD"})
		}
	}
	if len(bad) > 0 {
		problem.Write(w, r, problem.Validation(bad))
		return
	}
	resp, err := h.Client.GetStatement(Outgoing(r, h.AppID, h.DaprAPIToken), &billingv1.GetStatementRequest{
		AccountId: id, From: q.Get("from"), To: q.Get("to")})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, statement{Account: toAccount(resp.GetAccount()), From: resp.GetFrom(), To: resp.GetTo(),
		OpeningBalanceMinor: resp.GetOpeningBalanceMinor(), ClosingBalanceMinor: resp.GetClosingBalanceMinor(),
		TotalChargesMinor: resp.GetTotalChargesMinor(), TotalPaymentsMinor: resp.GetTotalPaymentsMinor(),
		TotalAdjustmentsMinor: resp.GetTotalAdjustmentsMinor(), Entries: toEntries(resp.GetEntries()),
		GeneratedAt: resp.GetGeneratedAt()})
}

func (h *Handler) audit(w http.ResponseWriter, r *http.Request) {
	id, limit, cursor, ok := accountPage(w, r)
	if !ok {
		return
	}
	resp, err := h.Client.ListAudit(Outgoing(r, h.AppID, h.DaprAPIToken), &billingv1.ListAuditRequest{
		AccountId: id, Limit: limit, Cursor: cursor})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := auditList{Items: make([]auditEntry, len(resp.GetEntries()))}
	for i, e := range resp.GetEntries() {
		out.Items[i] = auditEntry{At: e.GetAt(), UserID: e.GetUserId(), Role: e.GetRole(), Action: e.GetAction(),
			AccountIDs: e.GetAccountIds(), EntryID: e.GetEntryId(), RequestID: e.GetRequestId(), Outcome: e.GetOutcome()}
	}
	if resp.GetNextCursor() != "" {
		out.Next = nextLink(r, resp.GetNextCursor())
	}
	httpserver.WriteJSON(w, http.StatusOK, out)
}
