// Package fault names the failures every transport answers the same way,
// whatever the service: a dependency that is down is an outage to retry
// (HTTP 503 with Retry-After, gRPC UNAVAILABLE), never a fault of the
// request. Stores mark their driver's outage errors with it, so transports
// need not know the driver.
package fault

import (
	"errors"
	"fmt"
)

// ErrUnavailable marks an error meaning a dependency (the database) could
// not be reached or went away: retry shortly.
var ErrUnavailable = errors.New("dependency unavailable")

// Unavailable returns err marked as ErrUnavailable (errors.Is finds both).
func Unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
