package problem_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pms-dapr/pms/platform/problem"
)

func TestWriteFillsInstanceAndRequestID(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/patients", nil)
	req.Header.Set("X-Request-Id", "r-1")
	rec := httptest.NewRecorder()
	problem.Write(rec, req, problem.Validation([]problem.FieldError{{Field: "email", Message: "is required"}}))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	assert.JSONEq(t, `{"type":"https://pms.example/problems/validation","title":"Validation failed","status":400,
		"detail":"The request has invalid fields.","instance":"/patients","requestId":"r-1",
		"errors":[{"field":"email","message":"is required"}]}`, rec.Body.String())
}
