package patient

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pms-dapr/pms/platform/validation"
)

// List limits.
const (
	DefaultListLimit = 20
	MaxListLimit     = 100
)

// Query selects patients. All set filters must match.
type Query struct {
	Name      string    // each of its words (NameWords) starts a word of the name, in any order
	Email     string    // exact, case-insensitive
	MRN       string    // exact, case-insensitive
	BirthDate time.Time // exact; zero means any
	Q         string    // Name's match, or a case-insensitive prefix of the email, or the exact MRN
	Deleted   bool      // list soft-deleted records instead of live ones (admins)
	Strings   []StringFilter
	Tokens    []TokenFilter
	Dates     []DateFilter
	Limit     int
	After     *Cursor // keyset position: return records after it
}

// Cursor is a position in the list order (newest first, id breaking ties).
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// Encode renders c as an opaque token.
func (c Cursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt.UnixNano(), 10) + "." + c.ID))
}

// DecodeCursor parses a token made by Encode.
func DecodeCursor(s string) (Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, err
	}
	ns, id, ok := strings.Cut(string(raw), ".")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || !ValidID(id) {
		return Cursor{}, fmt.Errorf("malformed cursor")
	}
	return Cursor{CreatedAt: time.Unix(0, n).UTC(), ID: id}, nil
}

// parseLimit is a page size a client asked for (def when none), from 1 to
// max; anything else is added to verr.
func parseLimit(verr *validation.Error, s string, def, max int) int {
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		verr.Add("limit", fmt.Sprintf("must be a whole number from 1 to %d", max))
	}
	return n
}

// Page is one page of a search; Next is set when more records follow.
type Page struct {
	Items []Patient
	Next  *Cursor
}

// QueryInput is a search as a client wrote it.
type QueryInput struct {
	Name, Email, MRN, BirthDate, Q, Cursor, Limit string
	Deleted                                       bool
}

// Parse validates in and returns the Query it asks for.
func (in QueryInput) Parse() (Query, error) {
	verr := validation.New("query")
	q := Query{Name: strings.TrimSpace(in.Name), Email: strings.TrimSpace(in.Email), MRN: strings.TrimSpace(in.MRN),
		Q: strings.TrimSpace(in.Q), Deleted: in.Deleted, Limit: DefaultListLimit}
	for _, f := range []struct{ field, v string }{{"name", q.Name}, {"email", q.Email}, {"mrn", q.MRN}, {"q", q.Q}} {
		verr.Text(f.field, f.v, MaxNameLen)
	}
	if q.Name != "" && len(NameWords(q.Name)) == 0 {
		verr.Add("name", "must hold a letter or digit")
	}
	if in.BirthDate != "" {
		t, err := time.Parse(DateLayout, in.BirthDate)
		if err != nil {
			verr.Add("birthDate", "must be a real date in the form YYYY-MM-DD")
		}
		q.BirthDate = t
	}
	q.Limit = parseLimit(verr, in.Limit, DefaultListLimit, MaxListLimit)
	if in.Cursor != "" {
		c, err := DecodeCursor(in.Cursor)
		if err != nil {
			verr.Add("cursor", "is not a cursor this API returned")
		}
		q.After = &c
	}
	if len(verr.Fields) > 0 {
		return Query{}, verr
	}
	return q, nil
}

// Search returns one page of patients matching q, newest first. Only
// admins may list deleted records. The search and the records it returned
// are audited.
func (s *Service) Search(ctx context.Context, a Actor, q Query) (Page, error) {
	var page Page
	var err error
	if q.Deleted && a.Role != RoleAdmin {
		err = ErrForbidden
	} else {
		page, err = s.store.Search(ctx, q)
	}
	ids := make([]string, len(page.Items))
	for i, p := range page.Items {
		ids[i] = p.ID
	}
	e := a.outcome(a.entry(ActionSearch, s.clock(), ids...), err)
	e.Detail = q.describe()
	if aerr := s.store.RecordAudit(ctx, e); aerr != nil {
		return Page{}, wrap("patient.search", aerr)
	}
	return page, wrap("patient.search", err)
}

// describe says what was searched for, for the audit trail.
func (q Query) describe() string {
	var parts []string
	for _, kv := range [][2]string{{"name", q.Name}, {"email", q.Email}, {"mrn", q.MRN}, {"q", q.Q}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	if !q.BirthDate.IsZero() {
		parts = append(parts, "birthDate="+q.BirthDate.Format(DateLayout))
	}
	if q.Deleted {
		parts = append(parts, "deleted=true")
	}
	parts = append(parts, q.describeFilters()...)
	return strings.Join(parts, " ")
}
