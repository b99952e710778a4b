package billing

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pms-dapr/pms/platform/validation"
)

// List returns a page of accounts and the cursor of the next (empty on the
// last page).
func (s *Service) List(ctx context.Context, a Actor, patientID, status string, limit int, cursor string) (accounts []Account, next string, err error) {
	err = s.audited(ctx, a, ActionAccountList, "", false, func() (string, []string, error) {
		q := AccountQuery{PatientID: patientID, Status: Status(status)}
		inv := validation.New("account query")
		if patientID != "" && !validUUID(patientID) {
			inv.Add("patient_id", "must be a UUID")
		}
		if status != "" && !validStatus(Status(status)) {
			inv.Add("status", "must be ACTIVE, ON_HOLD or CLOSED")
		}
		q.Limit = pageLimit(inv, limit)
		if cursor != "" {
			c, ok := decodeAccountCursor(cursor)
			if !ok {
				inv.Add("cursor", "must be a cursor this API returned")
			}
			q.After = c
		}
		if err := inv.Err(); err != nil {
			return "", nil, err
		}
		q.Limit++
		list, err := s.store.List(ctx, q)
		if err != nil {
			return "", nil, err
		}
		if len(list) == q.Limit {
			list = list[:len(list)-1]
			last := list[len(list)-1]
			next = encodeCursor(strconv.FormatInt(last.CreatedAt.UnixMicro(), 10) + "/" + last.ID)
		}
		accounts = list
		ids := make([]string, len(list))
		for i, acc := range list {
			ids[i] = acc.ID
		}
		return "", ids, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("billing.list: %w", err)
	}
	return accounts, next, nil
}

// Get returns an account with its balance.
func (s *Service) Get(ctx context.Context, a Actor, id string) (acc Account, err error) {
	err = s.audited(ctx, a, ActionAccountRead, id, false, func() (string, []string, error) {
		if err := validID("account_id", id); err != nil {
			return "", nil, err
		}
		acc, err = s.store.Get(ctx, id)
		return "", nil, err
	})
	if err != nil {
		return Account{}, fmt.Errorf("billing.get: %w", err)
	}
	return acc, nil
}

// Entries returns a page of the account's ledger, newest first.
func (s *Service) Entries(ctx context.Context, a Actor, id string, limit int, cursor string) (entries []Entry, next string, err error) {
	err = s.audited(ctx, a, ActionEntriesRead, id, false, func() (string, []string, error) {
		var err error
		entries, next, err = newestFirst(ctx, s, "entries query", id, limit, cursor,
			func(before int64, n int) ([]Entry, error) { return s.store.Entries(ctx, id, before, n) },
			func(e Entry) int64 { return e.Sequence })
		return "", nil, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("billing.entries: %w", err)
	}
	return entries, next, nil
}

// newestFirst reads one page of an account's items (entries, audit
// entries) keyed by a number that grows with each: it checks the query and
// that the account exists, and returns the page and the next one's cursor
// (empty on the last page).
func newestFirst[T any](ctx context.Context, s *Service, what, accountID string, limit int, cursor string,
	fetch func(before int64, n int) ([]T, error), key func(T) int64) ([]T, string, error) {
	inv := validation.New(what)
	if !validUUID(accountID) {
		inv.Add("account_id", "must be a UUID")
	}
	limit = pageLimit(inv, limit)
	var before int64
	if cursor != "" {
		n, err := strconv.ParseInt(decodeCursor(cursor), 10, 64)
		if err != nil || n < 1 {
			inv.Add("cursor", "must be a cursor this API returned")
		}
		before = n
	}
	if err := inv.Err(); err != nil {
		return nil, "", err
	}
	if _, err := s.store.Get(ctx, accountID); err != nil {
		return nil, "", err
	}
	list, err := fetch(before, limit+1)
	if err != nil {
		return nil, "", err
	}
	if len(list) <= limit {
		return list, "", nil
	}
	list = list[:limit]
	return list, encodeCursor(strconv.FormatInt(key(list[limit-1]), 10)), nil
}

// Entry returns one entry of the account.
func (s *Service) Entry(ctx context.Context, a Actor, accountID, entryID string) (e Entry, err error) {
	err = s.audited(ctx, a, ActionEntriesRead, accountID, false, func() (string, []string, error) {
		inv := validation.New("entry query")
		if !validUUID(accountID) {
			inv.Add("account_id", "must be a UUID")
		}
		if !validUUID(entryID) {
			inv.Add("entry_id", "must be a UUID")
		}
		if err := inv.Err(); err != nil {
			return "", nil, err
		}
		e, err = s.store.Entry(ctx, accountID, entryID)
		return e.ID, nil, err
	})
	if err != nil {
		return Entry{}, fmt.Errorf("billing.entry: %w", err)
	}
	return e, nil
}

// Audit returns a page of the account's audit trail, newest first.
func (s *Service) Audit(ctx context.Context, a Actor, accountID string, limit int, cursor string) (entries []AuditEntry, next string, err error) {
	err = s.audited(ctx, a, ActionAuditRead, accountID, false, func() (string, []string, error) {
		var err error
		entries, next, err = newestFirst(ctx, s, "audit query", accountID, limit, cursor,
			func(before int64, n int) ([]AuditEntry, error) { return s.store.Audit(ctx, accountID, before, n) },
			func(e AuditEntry) int64 { return e.ID })
		return "", nil, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("billing.audit: %w", err)
	}
	return entries, next, nil
}

func pageLimit(inv *validation.Error, limit int) int {
	switch {
	case limit == 0:
		return DefaultLimit
	case limit < 1 || limit > MaxLimit:
		inv.Add("limit", fmt.Sprintf("must be from 1 to %d", MaxLimit))
		return DefaultLimit
	}
	return limit
}

func encodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeCursor(s string) string {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return ""
	}
	return string(b)
}

func decodeAccountCursor(s string) (*AccountCursor, bool) {
	micros, id, ok := strings.Cut(decodeCursor(s), "/")
	n, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || !validUUID(id) {
		return nil, false
	}
	return &AccountCursor{CreatedAt: time.UnixMicro(n).UTC(), ID: id}, true
}
