package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/platform/metrics"
)

// Requests are counted by route template, never by raw path, and an
// unknown method or path does not make a label of its own.
func TestHTTPCountsByRouteTemplate(t *testing.T) {
	r := chi.NewRouter()
	r.Get("/patients/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	r.Post("/patients", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) })
	reg := prometheus.NewRegistry()
	h, err := metrics.HTTP(reg, r)
	require.NoError(t, err)
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/patients/1", nil),
		httptest.NewRequest(http.MethodGet, "/patients/2", nil),
		httptest.NewRequest(http.MethodPost, "/patients", nil),
		httptest.NewRequest(http.MethodGet, "/patients/Ada%20Lovelace/x", nil),
		httptest.NewRequest("BREW", "/patients", nil),
	} {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	requests, err := reg.Gather()
	require.NoError(t, err)
	series := map[string]float64{}
	for _, mf := range requests {
		if mf.GetName() != "pms_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			key := ""
			for _, l := range m.GetLabel() {
				key += l.GetName() + "=" + l.GetValue() + " "
			}
			series[key] = m.GetCounter().GetValue()
		}
	}
	assert.Equal(t, map[string]float64{
		"code=204 method=GET route=/patients/{id} ": 2,
		"code=201 method=POST route=/patients ":     1,
		"code=404 method=GET route=unmatched ":      1,
		"code=405 method=other route=unmatched ":    1,
	}, series)
	assert.Equal(t, 4, testutil.CollectAndCount(reg, "pms_http_request_duration_seconds"), "one latency series per method and route")
}
