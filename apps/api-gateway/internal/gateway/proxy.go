// Package gateway is the system's single REST entry point: it routes each
// public path to the app that owns it through the local Dapr sidecar
// (service invocation), and turns invocation failures into problem+json.
package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pms-dapr/pms/platform/clientaddr"
	"github.com/pms-dapr/pms/platform/problem"
	"github.com/pms-dapr/pms/platform/requestid"
)

// errInvocation marks a response produced by the sidecar itself because it
// could not reach the target app.
var errInvocation = errors.New("dapr invocation failed")

// errHeadTooLarge is the sidecar refusing a request head too large for it.
var errHeadTooLarge = errors.New("the sidecar refused the request head as too large")

// newSidecarTransport is the connection pool every proxy shares: they all
// talk to the same sidecar.
func newSidecarTransport() http.RoundTripper {
	return &http.Transport{
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
}

// Proxy forwards requests to one app through the sidecar.
type Proxy struct {
	rp  *httputil.ReverseProxy
	log *slog.Logger
}

type upstreamKey struct{}

// NewProxy returns a Proxy to app appID through the sidecar over transport.
// It forwards the method, body, headers and request id, to the path and
// query a route's upstream builds (never the client's raw path). Headers a
// client could use to choose another target, to pose as the gateway or to
// change the method are replaced or dropped.
func NewProxy(cfg Config, transport http.RoundTripper, appID string, log *slog.Logger) *Proxy {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			target, _ := pr.In.Context().Value(upstreamKey{}).(*url.URL)
			if target == nil { // only To sets it; fail closed
				target = &url.URL{Path: "/nowhere"}
			}
			pr.SetURL(cfg.Sidecar)
			pr.Out.URL.Path, pr.Out.URL.RawPath, pr.Out.URL.RawQuery = target.Path, "", target.RawQuery
			pr.SetXForwarded()
			// One address, the client's as the gateway determined it:
			// auth-service throttles logins by it, and only the gateway may
			// call auth-service's login (access control).
			pr.Out.Header.Set(clientaddr.Header, cfg.TrustedProxies.Resolve(pr.In))
			for _, h := range methodOverrideHeaders {
				pr.Out.Header.Del(h)
			}
			// The apps use no cookies; the browser session's stay here.
			pr.Out.Header.Del("Cookie")
			pr.Out.Header.Set("Dapr-Api-Token", cfg.DaprAPIToken)
			pr.Out.Header.Set("Dapr-App-Id", appID)
			pr.Out.Header.Set(requestid.Header, requestid.From(pr.In.Context()))
			pr.Out.Header.Del(requestid.ClientHeader)
			if c := requestid.ClientFrom(pr.In.Context()); c != "" {
				pr.Out.Header.Set(requestid.ClientHeader, c)
			}
		},
		Transport:  transport,
		BufferPool: copyBuffers,
		ModifyResponse: func(resp *http.Response) error {
			if err := withLength(resp); err != nil {
				return err
			}
			return detectInvocationFailure(resp)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, errHeadTooLarge) {
				problem.Write(w, r, problem.New(http.StatusRequestHeaderFieldsTooLarge,
					"The URL and headers are too large; send a long search as a POST to _search."))
				return
			}
			status := http.StatusBadGateway
			detail := "The " + appID + " could not be reached."
			if errors.Is(err, errInvocation) {
				status = http.StatusServiceUnavailable
				detail = "The " + appID + " is unavailable; try again shortly."
			}
			log.WarnContext(r.Context(), "upstream failure", "app_id", appID, "err", err)
			if status == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", "2")
			}
			problem.Write(w, r, problem.New(status, detail))
		},
	}
	return &Proxy{rp: rp, log: log}
}

// methodOverrideHeaders would let an upstream framework treat a request as
// another method than the one the role rules saw.
var methodOverrideHeaders = []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"}

// To returns the handler forwarding to the path up builds: 404 when it
// cannot name anything, 400 for a query string that does not parse.
func (p *Proxy) To(up upstream) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, ok := up(r)
		if !ok {
			problem.NotFound(w, r)
			return
		}
		query, err := canonicalQuery(r.URL.RawQuery)
		if err != nil {
			d, _ := problem.Invalid(err)
			problem.Write(w, r, d)
			return
		}
		ctx := context.WithValue(r.Context(), upstreamKey{}, &url.URL{Path: path, RawQuery: query})
		p.rp.ServeHTTP(w, r.WithContext(ctx))
	})
}

// copyBuffers are the buffers the proxies copy bodies through: without a
// pool a proxy allocates 32 KiB per request, which at a thousand reads a
// second is most of the gateway's garbage.
var copyBuffers = &bufferPool{}

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, ok := b.p.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// bodies hold the answers withLength reads whole, until they are sent.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// pooledBody is an answer read into a pooled buffer (and, past
// maxBuffered, the rest of it still upstream); closing it returns the
// buffer.
type pooledBody struct {
	io.Reader
	buf  *bytes.Buffer
	rest io.Closer // the upstream body, when the answer did not fit
}

func (b *pooledBody) Close() error {
	var err error
	if b.rest != nil {
		err = b.rest.Close()
		b.rest = nil
	}
	if b.buf != nil {
		b.buf.Reset()
		bodies.Put(b.buf)
		b.buf = nil
	}
	return err
}

// maxBuffered bounds the answers withLength reads whole: every answer but
// the largest search pages.
const maxBuffered = 256 << 10

// withLength reads an answer the sidecar streams (no Content-Length; daprd
// flushes every write it forwards) whole when it is at most maxBuffered,
// and passes it on with its length. The proxy flushes a response without a
// length after every write, so a read would cost a write to the client per
// chunk and be sent chunked; with its length it is one write.
func withLength(resp *http.Response) error {
	if resp.ContentLength != -1 || !bodyAllowed(resp.StatusCode) ||
		strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return nil
	}
	buf := bodies.Get().(*bytes.Buffer)
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxBuffered+1)); err != nil {
		(&pooledBody{buf: buf, rest: resp.Body}).Close()
		return fmt.Errorf("read upstream answer: %w", err)
	}
	n := buf.Len()
	if n > maxBuffered {
		resp.Body = &pooledBody{Reader: io.MultiReader(bytes.NewReader(buf.Bytes()), resp.Body), buf: buf, rest: resp.Body}
		return nil
	}
	resp.Body.Close()
	resp.Body = &pooledBody{Reader: bytes.NewReader(buf.Bytes()), buf: buf}
	resp.ContentLength = int64(n)
	resp.Header.Set("Content-Length", strconv.Itoa(n))
	resp.TransferEncoding = nil
	return nil
}

// bodyAllowed reports whether a response with status may have a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// detectInvocationFailure recognises the sidecar's own error answers
// (a JSON body with an ERR_* errorCode, e.g. ERR_DIRECT_INVOKE when the
// target has no healthy instance or its circuit breaker is open). Apps
// answer errors as problem+json, so their responses pass through untouched.
//
// It also refuses the sidecar's hollow success: a 2xx other than 204 with
// no body and no Content-Type, which no app gives (every answer with a
// body names its type). daprd answers so when the app dies in the middle
// of a request (it finds no response to forward and writes nothing, and
// its HTTP server then sends 200). Passing it on would tell a client its
// read succeeded when the app never answered, nor audited it.
func detectInvocationFailure(resp *http.Response) error {
	// The gateway already answers with the request id; drop the upstream copy.
	resp.Header.Del(requestid.Header)
	resp.Header.Del(requestid.ClientHeader)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 && resp.StatusCode != http.StatusNoContent &&
		resp.ContentLength == 0 && resp.Header.Get("Content-Type") == "" {
		resp.Body.Close()
		return fmt.Errorf("%w: an empty %d from the sidecar", errInvocation, resp.StatusCode)
	}
	if (resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge || resp.StatusCode == http.StatusRequestURITooLong) &&
		!strings.HasPrefix(resp.Header.Get("Content-Type"), problem.ContentType) {
		// The sidecar's HTTP server refused the request's head in plain text.
		resp.Body.Close()
		return errHeadTooLarge
	}
	if resp.StatusCode < 500 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read sidecar error: %w", err)
	}
	var daprErr struct {
		ErrorCode string `json:"errorCode"`
		Message   string `json:"message"`
	}
	if json.Unmarshal(body, &daprErr) == nil && strings.HasPrefix(daprErr.ErrorCode, "ERR_") {
		return fmt.Errorf("%w: %s: %s", errInvocation, daprErr.ErrorCode, daprErr.Message)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}
