package identity_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/auth-service/internal/identity"
	"github.com/pms-dapr/pms/apps/auth-service/internal/identity/identitytest"
	"github.com/pms-dapr/pms/platform/validation"
)

// cheap keeps unit tests fast; production uses OWASPParams.
var cheap = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := identity.HashPassword("correct horse battery", identity.OWASPParams)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"), h)

	ok, err := identity.CheckPassword("correct horse battery", h)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = identity.CheckPassword("correct horse batterY", h)
	require.NoError(t, err)
	assert.False(t, ok)

	h2, _ := identity.HashPassword("correct horse battery", identity.OWASPParams)
	assert.NotEqual(t, h, h2, "salted")
}

func TestCheckPasswordRejectsMalformedHashes(t *testing.T) {
	for _, h := range []string{"", "plain", "$2a$12$abc", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=x,t=1,p=1$c2FsdA$aGFzaA"} {
		ok, err := identity.CheckPassword("pw", h)
		assert.False(t, ok, h)
		assert.Error(t, err, h)
	}
}

func TestMemoryFailureLogMeetsTheFailureLogContract(t *testing.T) {
	identitytest.FailureLogContract(t, func(*testing.T) identity.FailureLog { return identity.NewMemoryFailures() })
}

func TestValidateLoginRefusesWhatTheDatabaseWould(t *testing.T) {
	for _, tc := range []struct {
		email, password, field string
	}{
		{"a\x00@b.c", "long enough password", "email"},
		{"a\xff@b.c", "long enough password", "email"},
		{strings.Repeat("a", 250) + "@b.cd", "long enough password", "email"},
		{"a@b.c", "pass\x00word", "password"},
		{"a@b.c", "\xc0\xaf\xc0\xaf", "password"},
		{"a@b.c", strings.Repeat("p", 129), "password"},
		{"", "x", "email"},
		{"a@b.c", "", "password"},
	} {
		var verr *validation.Error
		require.ErrorAs(t, identity.ValidateLogin(tc.email, tc.password), &verr, "%q %q", tc.email, tc.password)
		assert.Equal(t, tc.field, verr.Fields[0].Field)
	}
	assert.NoError(t, identity.ValidateLogin("admin@pms.local", "any password at all, even wrong"))
}
