package gateway

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/pms-dapr/pms/platform/problem"
)

// Browser sessions. API clients get the refresh token in the JSON body of
// a login or refresh and send it back the same way. A browser asks for a
// cookie session instead (SessionHeader: cookie): the gateway keeps the
// refresh token out of the page — in an HttpOnly, SameSite=Strict cookie
// sent only to /auth/refresh — so script on the page can never read it,
// and accepts the cookie only with the CSRF token of the same session
// (double submit: a readable cookie the page copies into CSRFHeader).
const (
	// SessionHeader "cookie" on login, refresh and DELETE /auth/refresh
	// selects the cookie session.
	SessionHeader = "X-PMS-Session"
	// CSRFHeader carries the CSRF cookie's value on cookie refreshes and
	// logouts.
	CSRFHeader    = "X-CSRF-Token"
	refreshCookie = "pms_refresh"
	csrfCookie    = "pms_csrf"
	refreshPath   = "/auth/refresh"
)

// sessions wraps auth-service's login, refresh and logout for browsers.
type sessions struct {
	login, refresh, logout http.Handler
}

func wantsCookie(r *http.Request) bool { return r.Header.Get(SessionHeader) == "cookie" }

// Login is POST /auth/login.
func (s sessions) Login(w http.ResponseWriter, r *http.Request) {
	if !wantsCookie(r) {
		s.login.ServeHTTP(w, r)
		return
	}
	s.issue(w, r, s.login, r)
}

// Refresh is POST /auth/refresh: with a cookie session, the token comes
// from the cookie and the new one goes back into it.
func (s sessions) Refresh(w http.ResponseWriter, r *http.Request) {
	if !wantsCookie(r) {
		s.refresh.ServeHTTP(w, r)
		return
	}
	token, ok := cookieSession(w, r)
	if !ok {
		return
	}
	s.issue(w, r, s.refresh, withRefreshToken(r, token))
}

// End is DELETE /auth/refresh: it ends a cookie session (its refresh
// tokens stop working) and clears the cookies.
func (s sessions) End(w http.ResponseWriter, r *http.Request) {
	if !wantsCookie(r) {
		problem.Write(w, r, problem.New(http.StatusBadRequest, "Only a browser session ("+SessionHeader+": cookie) ends here; API clients use POST /auth/logout."))
		return
	}
	token, ok := cookieSession(w, r)
	if !ok {
		return
	}
	rec := newRecorder()
	s.logout.ServeHTTP(rec, withRefreshToken(r, token))
	if rec.Code != http.StatusNoContent && rec.Code != http.StatusUnauthorized {
		// Not ended (auth-service unreachable): keep the cookies, so the
		// logout can be tried again, and say why.
		copyResponse(w, rec)
		return
	}
	clearCookies(w, r)
	w.WriteHeader(http.StatusNoContent)
}

// issue forwards req to next and, on success, moves the refresh token from
// the body into the session cookie and sets a new CSRF token.
func (s sessions) issue(w http.ResponseWriter, r *http.Request, next http.Handler, req *http.Request) {
	rec := newRecorder()
	next.ServeHTTP(rec, req)
	if rec.Code == http.StatusUnauthorized && r.URL.Path == refreshPath {
		clearCookies(w, r)
	}
	if rec.Code != http.StatusOK {
		copyResponse(w, rec)
		return
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		problem.Write(w, r, problem.New(http.StatusBadGateway, "The auth-service answered with an unreadable session."))
		return
	}
	token, _ := body["refreshToken"].(string)
	if token == "" {
		problem.Write(w, r, problem.New(http.StatusBadGateway, "The auth-service answered without a refresh token."))
		return
	}
	delete(body, "refreshToken")
	csrf := make([]byte, 32)
	_, _ = rand.Read(csrf)
	secure := !isLocalhost(r)
	http.SetCookie(w, &http.Cookie{Name: refreshCookie, Value: token, Path: refreshPath,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: base64.RawURLEncoding.EncodeToString(csrf), Path: "/",
		Secure: secure, SameSite: http.SameSiteStrictMode})
	out, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// cookieSession is the refresh token of a cookie session whose CSRF token
// the request repeats; otherwise it answers 401 or 403 itself.
func cookieSession(w http.ResponseWriter, r *http.Request) (string, bool) {
	token, err := r.Cookie(refreshCookie)
	if err != nil || token.Value == "" {
		problem.Write(w, r, problem.New(http.StatusUnauthorized, "There is no browser session; log in."))
		return "", false
	}
	csrf, err := r.Cookie(csrfCookie)
	sent := r.Header.Get(CSRFHeader)
	if err != nil || csrf.Value == "" || subtle.ConstantTimeCompare([]byte(csrf.Value), []byte(sent)) != 1 {
		problem.Write(w, r, problem.New(http.StatusForbidden, "The "+CSRFHeader+" header must repeat the "+csrfCookie+" cookie."))
		return "", false
	}
	return token.Value, true
}

// withRefreshToken is r as a POST of {"refreshToken": token}.
func withRefreshToken(r *http.Request, token string) *http.Request {
	body, _ := json.Marshal(map[string]string{"refreshToken": token})
	out := r.Clone(r.Context())
	out.Method = http.MethodPost
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	out.Header.Set("Content-Type", "application/json")
	out.Header.Set("Content-Length", strconv.Itoa(len(body)))
	out.Header.Del("Cookie")
	return out
}

func clearCookies(w http.ResponseWriter, r *http.Request) {
	secure := !isLocalhost(r)
	http.SetCookie(w, &http.Cookie{Name: refreshCookie, Path: refreshPath, MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Path: "/", MaxAge: -1, Secure: secure, SameSite: http.SameSiteStrictMode})
}

// recorder keeps an upstream answer (a session: small) so it can be
// changed before the client sees it.
type recorder struct {
	header http.Header
	Code   int
	Body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}, Code: http.StatusOK} }

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.Code = code }
func (r *recorder) Write(b []byte) (int, error) { return r.Body.Write(b) }

func copyResponse(w http.ResponseWriter, rec *recorder) {
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// isLocalhost reports whether the client addressed the gateway as this
// machine, where browsers accept a cookie without Secure over plain HTTP.
func isLocalhost(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
