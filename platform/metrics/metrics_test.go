package metrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/platform/metrics"
)

func gauges(read func(context.Context) ([]metrics.Value, error)) *metrics.Gauges {
	return metrics.NewGauges(read, metrics.Gauge{Name: "pms_test_depth", Help: "Test depth by topic.", Labels: []string{"topic"}})
}

func TestGaugesAreReadAtEachScrape(t *testing.T) {
	n := 0.0
	g := gauges(func(context.Context) ([]metrics.Value, error) {
		n++
		return []metrics.Value{{Name: "pms_test_depth", Labels: []string{"patient"}, V: n}}, nil
	})
	want := "# HELP pms_test_depth Test depth by topic.\n# TYPE pms_test_depth gauge\npms_test_depth{topic=\"patient\"} 1\n"
	require.NoError(t, testutil.CollectAndCompare(g, strings.NewReader(want)))
	assert.Equal(t, 1, testutil.CollectAndCount(g), "one sample")
	assert.Equal(t, 2.0, n, "each collection reads again")
}

// A value that cannot be read is an error for the scraper, never a zero.
func TestAFailedReadIsAScrapeError(t *testing.T) {
	g := gauges(func(context.Context) ([]metrics.Value, error) { return nil, errors.New("database down") })
	reg := metrics.NewRegistry()
	reg.MustRegister(g)
	_, err := reg.Gather()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "database down")
}

func TestServeOnlyWhenAnAddressIsGiven(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	require.NoError(t, metrics.Serve(t.Context(), log, "", metrics.NewRegistry()))

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	reg := metrics.NewRegistry()
	reg.MustRegister(gauges(func(context.Context) ([]metrics.Value, error) {
		return []metrics.Value{{Name: "pms_test_depth", Labels: []string{"billing"}, V: 3}}, nil
	}))
	require.NoError(t, metrics.Serve(t.Context(), log, addr, reg))
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assert.Contains(t, string(body), `pms_test_depth{topic="billing"} 3`)
	assert.Contains(t, string(body), "go_goroutines")
}
