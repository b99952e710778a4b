package pgdb_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"

	"github.com/pms-dapr/pms/platform/pgdb"
)

func TestUnavailableTellsOutagesFromFaults(t *testing.T) {
	for err, want := range map[error]bool{
		nil:                                           false,
		errors.New("boom"):                            false,
		pgx.ErrNoRows:                                 false,
		&pgconn.PgError{Code: "23505"}:                false, // unique violation: the caller's fault
		&pgconn.PgError{Code: "22021"}:                false, // invalid byte sequence
		&pgconn.PgError{Code: "57P01"}:                true,  // admin shutdown (a restart)
		&pgconn.PgError{Code: "57P03"}:                true,  // cannot connect now (starting)
		&pgconn.PgError{Code: "08006"}:                true,  // connection failure
		fmt.Errorf("x: %w", io.ErrUnexpectedEOF):      true,
		fmt.Errorf("x: %w", context.DeadlineExceeded): true,
	} {
		assert.Equal(t, want, pgdb.Unavailable(err), "%v", err)
	}
	_, err := pgx.Connect(context.Background(), "postgres://u@127.0.0.1:1/db?connect_timeout=1")
	assert.True(t, pgdb.Unavailable(err), "a refused connection: %v", err)
}
