// Package identitydb stores users and refresh tokens in PostgreSQL.
package identitydb

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pms-dapr/pms/apps/auth-service/internal/identity"
	"github.com/pms-dapr/pms/platform/pgdb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the schema migrations, applied at start.
func Migrations() fs.FS { return pgdb.Dir(migrationFiles) }

// Store implements identity.Store.
type Store struct{ pool *pgxpool.Pool }

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

const userColumns = `id, email, password_hash, role, disabled, created_at, updated_at`

func scanUser(row pgx.CollectableRow) (identity.User, error) {
	var u identity.User
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Role, &u.Disabled, &u.CreatedAt, &u.UpdatedAt)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, err
}

func (s *Store) oneUser(ctx context.Context, op, sql string, args ...any) (identity.User, error) {
	rows, _ := s.pool.Query(ctx, sql, args...)
	u, err := pgx.CollectExactlyOneRow(rows, scanUser)
	if errors.Is(err, pgx.ErrNoRows) {
		return identity.User{}, identity.ErrNotFound
	}
	if err != nil {
		return identity.User{}, pgdb.Errorf("identitydb.%s: %w", op, err)
	}
	return u, nil
}

// UserByEmail finds a user by email, case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (identity.User, error) {
	return s.oneUser(ctx, "user_by_email", `SELECT `+userColumns+` FROM users WHERE lower(email) = lower($1)`, email)
}

// UserByID finds a user by id.
func (s *Store) UserByID(ctx context.Context, id string) (identity.User, error) {
	return s.oneUser(ctx, "user_by_id", `SELECT `+userColumns+` FROM users WHERE id = $1`, id)
}

// CreateUser inserts u.
func (s *Store) CreateUser(ctx context.Context, u identity.User) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		u.ID, u.Email, u.PasswordHash, u.Role, u.Disabled, u.CreatedAt, u.UpdatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return identity.ErrEmailTaken
	}
	if err != nil {
		return pgdb.Errorf("identitydb.create_user: %w", err)
	}
	return nil
}

// ListUsers returns every user by email.
func (s *Store) ListUsers(ctx context.Context) ([]identity.User, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY lower(email)`)
	us, err := pgx.CollectRows(rows, scanUser)
	if err != nil {
		return nil, pgdb.Errorf("identitydb.list_users: %w", err)
	}
	return us, nil
}

// UpdateUser applies p. Disabling a user also revokes their refresh tokens.
func (s *Store) UpdateUser(ctx context.Context, id string, p identity.UserPatch, now time.Time) (identity.User, error) {
	var u identity.User
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `UPDATE users SET role = coalesce($2, role), disabled = coalesce($3, disabled),
			updated_at = $4 WHERE id = $1 RETURNING `+userColumns, id, p.Role, p.Disabled, now)
		var err error
		u, err = pgx.CollectExactlyOneRow(rows, scanUser)
		if err != nil {
			return err
		}
		if u.Disabled {
			_, err = tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, id, now)
		}
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return identity.User{}, identity.ErrNotFound
	}
	if err != nil {
		return identity.User{}, pgdb.Errorf("identitydb.update_user: %w", err)
	}
	return u, nil
}

const insertRefresh = `INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at, created_at, family_expires_at)
	VALUES ($1, $2, $3, $4, LEAST($5::timestamptz, $7::timestamptz), $6, $7)`

// CreateRefresh stores t.
func (s *Store) CreateRefresh(ctx context.Context, t identity.RefreshToken) error {
	if _, err := s.pool.Exec(ctx, insertRefresh, t.ID, t.FamilyID, t.UserID, t.Hash, t.ExpiresAt, t.CreatedAt, t.FamilyExpiresAt); err != nil {
		return pgdb.Errorf("identitydb.create_refresh: %w", err)
	}
	return nil
}

// RotateRefresh spends the token with hash and stores next in its family.
func (s *Store) RotateRefresh(ctx context.Context, hash []byte, now time.Time, next identity.RefreshToken) (string, error) {
	var userID string
	reused := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id, family string
		var expires, familyExpires time.Time
		var used, revoked *time.Time
		err := tx.QueryRow(ctx, `SELECT id, family_id, user_id, expires_at, used_at, revoked_at, family_expires_at
			FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`, hash).Scan(&id, &family, &userID, &expires, &used, &revoked, &familyExpires)
		if errors.Is(err, pgx.ErrNoRows) {
			return identity.ErrInvalidRefresh
		}
		if err != nil {
			return err
		}
		switch {
		case revoked != nil || !now.Before(expires) || !now.Before(familyExpires):
			return identity.ErrInvalidRefresh
		case used != nil:
			reused = true
			_, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL`, family, now)
			return err // commit the revocation
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = $2 WHERE id = $1`, id, now); err != nil {
			return err
		}
		// The next token belongs to the same login: it ends when the login
		// does, whatever its own lifetime.
		_, err = tx.Exec(ctx, insertRefresh, next.ID, family, userID, next.Hash, next.ExpiresAt, next.CreatedAt, familyExpires)
		return err
	})
	switch {
	case errors.Is(err, identity.ErrInvalidRefresh):
		return "", err
	case err != nil:
		return "", pgdb.Errorf("identitydb.rotate_refresh: %w", err)
	case reused:
		return "", identity.ErrInvalidRefresh
	}
	return userID, nil
}

// RevokeFamily revokes the family of the token with hash.
func (s *Store) RevokeFamily(ctx context.Context, hash []byte, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $2
		WHERE revoked_at IS NULL AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)`, hash, now)
	if err != nil {
		return pgdb.Errorf("identitydb.revoke_family: %w", err)
	}
	return nil
}
