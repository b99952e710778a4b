package problem

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/pms-dapr/pms/platform/fault"
)

// Rule maps one domain error to the problem a client gets. A rule with a
// Field answers with that field named in Errors (a conflict on a unique
// value, say).
type Rule struct {
	Err     error
	Status  int
	Detail  string
	Field   string // optional: the field the error is about
	Message string // with Field: what is wrong with it
	// RetryAfter, when set, is sent as Retry-After (whole seconds, rounded
	// up): with 429 or 503, when to try again. An error in the chain that
	// knows its own wait (a Waiter) says it instead.
	RetryAfter time.Duration
}

// Waiter is an error that knows how long the client should wait before
// trying again (a throttled login, say).
type Waiter interface {
	error
	Wait() time.Duration
}

// Mapper is the one error-to-problem mapping of an HTTP API: a validation
// error lists its fields (400), a rule's error answers as the rule says,
// an outage (fault.ErrUnavailable) is 503 with Retry-After, and anything
// else is logged with its detail and answered with a generic 500.
type Mapper struct {
	Log   *slog.Logger
	Rules []Rule
}

// Write answers err.
func (m Mapper) Write(w http.ResponseWriter, r *http.Request, err error) {
	if d, ok := Invalid(err); ok {
		Write(w, r, d)
		return
	}
	for _, rule := range m.Rules {
		if errors.Is(err, rule.Err) {
			d := New(rule.Status, rule.Detail)
			if rule.Field != "" {
				d.Errors = []FieldError{{Field: rule.Field, Message: rule.Message}}
			}
			wait := rule.RetryAfter
			if waiter, ok := errors.AsType[Waiter](err); ok {
				wait = waiter.Wait()
			}
			if wait > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			}
			Write(w, r, d)
			return
		}
	}
	if errors.Is(err, fault.ErrUnavailable) {
		m.Log.WarnContext(r.Context(), "dependency unavailable", "err", err)
		WriteUnavailable(w, r, 2, "The database is unavailable; try again shortly.")
		return
	}
	m.Log.ErrorContext(r.Context(), "request failed", "err", err)
	Write(w, r, New(http.StatusInternalServerError, "The request could not be completed."))
}
