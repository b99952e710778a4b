package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// SentryPort is where the Dapr CLI expects Sentry (localhost:50001); the
// runner uses it when free, so both paths look alike.
const SentryPort = 50001

// Sentry is Dapr's certificate authority, run for one run of the system
// on loopback with a trust bundle generated for that run. Standalone Sentry
// issues a workload certificate to whoever asks (its validator does no
// authentication), so it must never listen beyond loopback.
type Sentry struct {
	// Address is the host:port sidecars ask for their certificates.
	Address string
	// TrustAnchors is the PEM of this run's root certificate, which every
	// sidecar trusts (DAPR_TRUST_ANCHORS).
	TrustAnchors []byte
	// HealthzPort is the port of Sentry's health endpoint, which answers on
	// every interface (Sentry ignores --healthz-listen-address).
	HealthzPort int

	proc *proc
}

// StartSentry starts Sentry from bin with the control plane Configuration
// in config and a fresh issuer under dataDir, and returns once it serves
// and its root certificate exists.
func StartSentry(ctx context.Context, bin, config, dataDir string, ports *PortPicker, out io.Writer) (*Sentry, error) {
	dir := filepath.Join(dataDir, "sentry")
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("sentry: %w", err)
	}
	creds := filepath.Join(dir, "issuer")
	if err := os.MkdirAll(creds, 0o700); err != nil {
		return nil, fmt.Errorf("sentry: %w", err)
	}
	port, err := ports.want(SentryPort, true)
	if err != nil {
		return nil, err
	}
	healthz, err := ports.free()
	if err != nil {
		return nil, err
	}
	p, err := startProc(procSpec{
		name: "sentry",
		dir:  dir,
		argv: []string{bin,
			"--config", config,
			"--issuer-credentials", creds,
			"--trust-domain", "localhost",
			"--listen-address", "127.0.0.1", "--port", strconv.Itoa(port),
			// Sentry 1.18.2 ignores --healthz-listen-address (its healthz
			// answers on every interface, revealing only that it is up) and
			// --metrics-listen-address, so its metrics are off.
			"--healthz-port", strconv.Itoa(healthz),
			"--enable-metrics=false",
		},
		env:     os.Environ(),
		logFile: filepath.Join(dir, "sentry.log"),
		out:     out,
	})
	if err != nil {
		return nil, fmt.Errorf("sentry: %w", err)
	}
	s := &Sentry{Address: "127.0.0.1:" + strconv.Itoa(port), HealthzPort: healthz, proc: p}
	if err := s.waitReady(ctx, healthz, filepath.Join(creds, "ca.crt"), 30*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Sentry) waitReady(ctx context.Context, healthzPort int, caFile string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", healthzPort)
	for {
		select {
		case <-s.proc.done:
			return fmt.Errorf("sentry exited: %w", s.proc.crashReport())
		default:
		}
		ca, caErr := os.ReadFile(caFile)
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && caErr == nil && len(ca) > 0 {
				s.TrustAnchors = ca
				return nil
			}
			err = errors.New(resp.Status)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("sentry not ready: %v (root certificate: %v)", err, caErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PID is the Sentry process id.
func (s *Sentry) PID() int { return s.proc.pid() }

// Stop stops Sentry.
func (s *Sentry) Stop() { s.proc.stop(stopGrace) }
