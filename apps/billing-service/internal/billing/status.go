package billing

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/pms-dapr/pms/platform/validation"
)

// StatusAction is a status change staff can make.
type StatusAction string

// Status actions.
const (
	Hold    StatusAction = "HOLD"
	Release StatusAction = "RELEASE"
	Close   StatusAction = "CLOSE"
)

// ChangeStatus holds, releases or closes the account if it is still at
// version expected.
func (s *Service) ChangeStatus(ctx context.Context, a Actor, accountID string, act StatusAction, expected int64) (acc Account, err error) {
	action := map[StatusAction]string{Hold: ActionHold, Release: ActionRelease, Close: ActionClose}[act]
	if action == "" {
		return Account{}, validation.Field("status change", "action", "must be HOLD, RELEASE or CLOSE")
	}
	err = s.audited(ctx, a, action, accountID, true, func() (string, []string, error) {
		if err := validID("account_id", accountID); err != nil {
			return "", nil, err
		}
		if expected < 1 {
			return "", nil, validation.Field("status change", "If-Match", "must be the ETag of the account")
		}
		c, err := s.store.Apply(ctx, accountID, func(cur Account, _ *Entry) (Change, error) {
			if cur.Version != expected {
				return Change{}, ErrVersionMismatch
			}
			return s.decideStatus(a, action, cur, act)
		})
		acc = c.Account
		return "", nil, err
	})
	if err != nil {
		return Account{}, fmt.Errorf("billing.%s: %w", action, err)
	}
	return acc, nil
}

// decideStatus is the lifecycle: ACTIVE ⇄ ON_HOLD, either → CLOSED, and
// CLOSED is final.
func (s *Service) decideStatus(a Actor, action string, acc Account, act StatusAction) (Change, error) {
	var to Status
	switch {
	case acc.Status == StatusClosed:
		return Change{}, &StatusError{Status: acc.Status, What: "status changes"}
	case act == Hold && acc.Status == StatusOnHold, act == Release && acc.Status == StatusActive:
		return Change{}, ErrNoChange
	case act == Hold:
		to = StatusOnHold
	case act == Release:
		to = StatusActive
	default:
		to = StatusClosed
	}
	now := s.clock()
	acc.Status, acc.Version, acc.UpdatedAt = to, acc.Version+1, now
	return Change{Account: acc, Event: Event{ID: uuid.NewString(), Type: EventStatusChanged, Account: acc, OccurredAt: now},
		Audit: a.entry(action, now, "", acc.ID)}, nil
}

func validStatus(s Status) bool { return s == StatusActive || s == StatusOnHold || s == StatusClosed }
