package pgdb

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheckTLSWantsVerifyFullOutsideDevelopment(t *testing.T) {
	for _, u := range []string{
		"postgres://app@db.example/patient",                      // prefer: falls back to plain text
		"postgres://app@db.example/patient?sslmode=disable",      //
		"postgres://app@db.example/patient?sslmode=allow",        //
		"postgres://app@db.example/patient?sslmode=require",      // no certificate check
		"postgres://app@db.example/patient?sslmode=verify-ca",    // no host name check
		"host=db.example user=app dbname=patient sslmode=prefer", //
	} {
		assert.Error(t, CheckTLS("DATABASE_URL", u, false), u)
		assert.NoError(t, CheckTLS("DATABASE_URL", u, true), "development allows %s", u)
	}
	assert.NoError(t, CheckTLS("DATABASE_URL", "postgres://app@db.example/patient?sslmode=verify-full", false))
	assert.NoError(t, CheckTLS("DATABASE_URL", "host=db.example user=app dbname=patient sslmode=verify-full", false))
	assert.ErrorContains(t, CheckTLS("DATABASE_URL", "postgres://app@db.example/patient?sslmode=nonsense", false), "DATABASE_URL")
}

func TestPlanFromTheTwoLogins(t *testing.T) {
	p, err := planFrom("patient",
		"postgres://patient_owner:o%40pw@db:5432/patient?sslmode=verify-full",
		"postgres://patient_app:a-pw@db:5432/patient?sslmode=verify-full")
	assert.NoError(t, err)
	assert.Equal(t, Plan{Database: "patient",
		Roles:         Roles{Owner: "patient_owner", Runtime: "patient_runtime", App: "patient_app"},
		OwnerPassword: "o@pw", AppPassword: "a-pw"}, p)

	_, err = planFrom("patient", "postgres://patient_owner:x@db/patient", "")
	assert.ErrorContains(t, err, "DATABASE_URL")
	_, err = planFrom("patient", "postgres://patient_owner:x@db/patient", "postgres://patient_app:y@db/billing")
	assert.ErrorContains(t, err, "same database")
	_, err = planFrom("patient", "postgres://patient_owner:x@db/patient", "postgres://patient_owner:x@db/patient")
	assert.ErrorContains(t, err, "different logins")
}
