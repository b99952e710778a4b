package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/apps/api-gateway/internal/gateway"
)

// fakeAuth is auth-service behind a sidecar: login and refresh hand out a
// session whose refresh token counts up; logout records the token.
type fakeAuth struct {
	mu        sync.Mutex
	n         int
	refreshed []string // refresh tokens received by /refresh
	loggedOut []string // by /logout
	cookies   []string // Cookie headers that reached the sidecar
}

func (f *fakeAuth) serve(t *testing.T) http.Handler {
	sidecar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if c := r.Header.Get("Cookie"); c != "" {
			f.cookies = append(f.cookies, c)
		}
		var body struct{ RefreshToken string }
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &body)
		switch r.URL.Path {
		case "/refresh":
			f.refreshed = append(f.refreshed, body.RefreshToken)
			if body.RefreshToken == "revoked" {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"type":"about:blank","title":"Unauthorized","status":401}`)
				return
			}
		case "/logout":
			f.loggedOut = append(f.loggedOut, body.RefreshToken)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		f.n++
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"accessToken": "access", "tokenType": "Bearer", "expiresIn": 900,
			"refreshToken": "refresh-" + string(rune('0'+f.n))})
	}))
	t.Cleanup(sidecar.Close)
	u := mustURL(sidecar.URL)
	return routes(u, func(http.Handler) http.Handler { // no protected route is used here
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	})
}

func send(h http.Handler, method, target string, body string, header map[string]string, cookies ...*http.Cookie) *http.Response {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func cookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestAPIClientsKeepTheRefreshTokenInTheBody(t *testing.T) {
	h := (&fakeAuth{}).serve(t)
	resp := send(h, http.MethodPost, "/auth/login", `{"email":"a@b.c","password":"x"}`, map[string]string{"Content-Type": "application/json"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var s map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
	assert.Equal(t, "refresh-1", s["refreshToken"])
	assert.Empty(t, resp.Cookies(), "no cookie unless the client asks for a browser session")
}

func TestBrowserSessionKeepsTheRefreshTokenInAnHttpOnlyCookie(t *testing.T) {
	fa := &fakeAuth{}
	h := fa.serve(t)
	browser := map[string]string{"Content-Type": "application/json", gateway.SessionHeader: "cookie"}

	resp := send(h, http.MethodPost, "http://localhost:4004/auth/login", `{"email":"a@b.c","password":"x"}`, browser)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var s map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
	assert.Equal(t, "access", s["accessToken"])
	assert.NotContains(t, s, "refreshToken", "the page never sees the refresh token")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	refresh, csrf := cookie(resp, "pms_refresh"), cookie(resp, "pms_csrf")
	require.NotNil(t, refresh)
	require.NotNil(t, csrf)
	assert.Equal(t, "refresh-1", refresh.Value)
	assert.True(t, refresh.HttpOnly)
	assert.Equal(t, "/auth/refresh", refresh.Path, "sent nowhere but to refresh")
	assert.Equal(t, http.SameSiteStrictMode, refresh.SameSite)
	assert.False(t, refresh.Secure, "plain HTTP on localhost")
	assert.False(t, csrf.HttpOnly, "the page copies it into the header")
	assert.Len(t, csrf.Value, 43)

	// Refresh needs the CSRF token repeated in the header.
	resp = send(h, http.MethodPost, "http://localhost:4004/auth/refresh", "", browser, refresh, csrf)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	browser[gateway.CSRFHeader] = "forged"
	resp = send(h, http.MethodPost, "http://localhost:4004/auth/refresh", "", browser, refresh, csrf)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Empty(t, fa.refreshed, "nothing reached auth-service without the CSRF token")

	browser[gateway.CSRFHeader] = csrf.Value
	resp = send(h, http.MethodPost, "http://localhost:4004/auth/refresh", "", browser, refresh, csrf)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"refresh-1"}, fa.refreshed, "the cookie's token was traded")
	rotated := cookie(resp, "pms_refresh")
	require.NotNil(t, rotated)
	assert.Equal(t, "refresh-2", rotated.Value)
	newCSRF := cookie(resp, "pms_csrf")
	require.NotNil(t, newCSRF)
	assert.NotEqual(t, csrf.Value, newCSRF.Value)

	// Logout ends the session at auth-service and clears both cookies.
	browser[gateway.CSRFHeader] = newCSRF.Value
	resp = send(h, http.MethodDelete, "http://localhost:4004/auth/refresh", "", browser, rotated, newCSRF)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, []string{"refresh-2"}, fa.loggedOut)
	for _, name := range []string{"pms_refresh", "pms_csrf"} {
		c := cookie(resp, name)
		require.NotNil(t, c, name)
		assert.Negative(t, c.MaxAge, "%s is cleared", name)
	}
	assert.Empty(t, fa.cookies, "cookies never reach the apps")
}

func TestBrowserSessionCookiesAreSecureBeyondLocalhost(t *testing.T) {
	h := (&fakeAuth{}).serve(t)
	resp := send(h, http.MethodPost, "https://pms.example.org/auth/login", `{"email":"a@b.c","password":"x"}`,
		map[string]string{"Content-Type": "application/json", gateway.SessionHeader: "cookie"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, cookie(resp, "pms_refresh").Secure)
	assert.True(t, cookie(resp, "pms_csrf").Secure)
}

func TestBrowserRefreshWithoutASessionOrWithARevokedOne(t *testing.T) {
	h := (&fakeAuth{}).serve(t)
	browser := map[string]string{gateway.SessionHeader: "cookie", gateway.CSRFHeader: "c"}
	resp := send(h, http.MethodPost, "http://localhost/auth/refresh", "", browser)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	resp = send(h, http.MethodPost, "http://localhost/auth/refresh", "", browser,
		&http.Cookie{Name: "pms_refresh", Value: "revoked"}, &http.Cookie{Name: "pms_csrf", Value: "c"})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	c := cookie(resp, "pms_refresh")
	require.NotNil(t, c, "a refused session's cookie is cleared")
	assert.Negative(t, c.MaxAge)

	resp = send(h, http.MethodDelete, "http://localhost/auth/refresh", "", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "API clients log out with POST /auth/logout")
}

func mustURL(raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	return u
}

func TestBrowserLogoutKeepsTheSessionWhenAuthServiceIsDown(t *testing.T) {
	down := mustURL("http://127.0.0.1:1") // nothing listens
	h := routes(down, func(next http.Handler) http.Handler { return next })
	resp := send(h, http.MethodDelete, "http://localhost/auth/refresh", "",
		map[string]string{gateway.SessionHeader: "cookie", gateway.CSRFHeader: "c"},
		&http.Cookie{Name: "pms_refresh", Value: "r"}, &http.Cookie{Name: "pms_csrf", Value: "c"})
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.Nil(t, cookie(resp, "pms_refresh"), "the cookie stays, so logging out can be tried again")
}
