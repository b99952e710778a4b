package pgdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pms-dapr/pms/platform/fault"
)

// Unavailable reports whether err means the database could not be reached
// or went away (restarting, shutting down, refusing connections): an
// outage to answer with 503 and Retry-After, not a fault to answer 500.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // shutting down, starting up
			return true
		case pgErr.Code == "53300": // too many connections
			return true
		}
		return false
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || pgconn.SafeToRetry(err)
}

// Errorf is fmt.Errorf for a store's errors: when the error it makes means
// the database is unavailable, it is marked fault.ErrUnavailable, so the
// transports answer 503 (or UNAVAILABLE) without knowing the driver.
func Errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if Unavailable(err) {
		return fault.Unavailable(err)
	}
	return err
}
