package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/access"
)

// Every path of the server but /healthz, the dashboard's static files, the login endpoints and
// the audit-event endpoints (which check their channel tokens themselves) is behind
// authenticated: a request carries `Authorization: Bearer <access key id>:<secret>` (the JSON
// API) or the session cookie that POST /api/login or a one-time login link set (the
// dashboard). Without valid credentials the answer is 401 with one body, whatever was wrong
// (docs/security.md, "The doors").

const (
	sessionCookie = "auditlake_session"
	csrfHeader    = "X-CSRF-Token"
)

// errUnauthenticated is the one answer to missing, malformed, unknown, wrong, disabled and
// expired credentials and to an ended session: it never says which.
var errUnauthenticated = &apiError{http.StatusUnauthorized, "unauthorized",
	"authentication required: log in, or send Authorization: Bearer <access key id>:<secret access key>"}

type sessionKey struct{}

// maxKeyIDLen bounds an access key id as the limiter keeps it (auditlake's are 20 characters).
const maxKeyIDLen = 64

// authenticated wraps an API handler: it authenticates the request, refuses a cookie-borne
// state-changing request without its CSRF token or from another site, and hands the handler a
// context with the access.Caller and, for the per-client limits, the principal's name as the
// client.
func (s *Server) authenticated(method string, fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	next := s.api(method, fn)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, err := s.authenticate(w, r)
		if err != nil {
			w.Header().Set("Cache-Control", "no-store")
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (context.Context, error) {
	ctx := r.Context()
	if c, ok := access.CallerFrom(ctx); ok {
		// A program embedding the server authenticated the request already (a context value is
		// set by code in this process, never by anything a client sends).
		return WithClient(ctx, c.Principal.Name()), nil
	}
	caller := access.Caller{SourceIP: clientOf(r), UserAgent: truncate(r.UserAgent(), 256)}
	if n := len(r.Header.Values("Authorization")); n > 1 {
		// Which one counts would be this server's choice, and a proxy in front may have
		// checked or logged another: refused, as a malformed credential is.
		s.limiter.fail(access.DoorAPI, "", caller.SourceIP)
		return nil, badRequest("the request has %d Authorization headers; send one", n)
	}
	if h := r.Header.Get("Authorization"); h != "" {
		// A bearer request carries no ambient credential a foreign page could make the
		// browser send, so it needs no CSRF token.
		scheme, cred, _ := strings.Cut(strings.TrimSpace(h), " ")
		id, secret, ok := strings.Cut(strings.TrimSpace(cred), ":")
		if !strings.EqualFold(scheme, "Bearer") || !ok || id == "" || secret == "" {
			if err := s.blocked("", caller.SourceIP); err != nil {
				return nil, err
			}
			s.limiter.fail(access.DoorAPI, "", caller.SourceIP)
			return nil, errUnauthenticated
		}
		p, err := s.checkKey(r, access.DoorAPI, id, secret)
		if err != nil {
			return nil, err
		}
		caller.Principal, caller.KeyID, caller.Door = p, id, access.DoorAPI
	} else if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		sess, p, err := s.session(c.Value)
		if err != nil {
			if errors.Is(err, errUnauthenticated) {
				clearSessionCookie(w, r)
			}
			return nil, err
		}
		if err := s.checkCSRF(r, sess); err != nil {
			return nil, err
		}
		caller.Principal, caller.KeyID, caller.Door = p, sess.keyID, access.DoorDashboard
		ctx = context.WithValue(ctx, sessionKey{}, sessionRef{c.Value, sess})
	} else {
		return nil, errUnauthenticated
	}
	ctx = access.WithCaller(ctx, caller)
	return WithClient(ctx, caller.Principal.Name()), nil
}

// sessionRef is the session of a cookie-authenticated request, with its token for logout.
type sessionRef struct {
	token string
	s     *session
}

// checkKey authenticates an access key id and secret, within the failure limits: a key id or
// an address with too many recent failures is refused (429) before its secret is looked at.
func (s *Server) checkKey(r *http.Request, door, id, secret string) (*access.Principal, error) {
	addr := clientOf(r)
	if len(id) > maxKeyIDLen {
		// No access key has such an id: count the failure against the address only, so a
		// guesser cannot fill the limiter's memory with huge key ids.
		s.limiter.fail(door, "", addr)
		return nil, errUnauthenticated
	}
	if err := s.blocked(id, addr); err != nil {
		return nil, err
	}
	if s.opts.Access == nil {
		s.limiter.fail(door, id, addr)
		return nil, errUnauthenticated
	}
	p, err := s.opts.Access.Authenticate(id, secret)
	if errors.Is(err, access.ErrUnauthenticated) {
		s.limiter.fail(door, id, addr)
		s.log.Info("authentication failed", "access_key_id", truncate(id, 40), "remote", addr)
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	return p, nil
}

// blocked refuses (429) an authentication with key id (may be empty) from addr while either has
// too many recent failures.
func (s *Server) blocked(id, addr string) error {
	wait := s.limiter.retryAfter(id, addr)
	if wait <= 0 {
		return nil
	}
	s.log.Warn("authentication refused: too many failures", "access_key_id", truncate(id, 40), "remote", addr)
	return &BusyError{Status: http.StatusTooManyRequests, RetryAfter: wait,
		Msg: fmt.Sprintf("too many failed authentications; try again in %s", wait.Round(time.Second))}
}

// channelAuth authenticates a call to the audit-event endpoints through the backend's receiver
// (a channel token is an access key) within the same failure limits as checkKey: a key id or
// an address with too many recent failures is refused (429) before the secret is looked at,
// and a refused call counts as a failure of its key id (when it names one no longer than any
// key id) and of its address.
func (s *Server) channelAuth(r *http.Request, recv AuditEventReceiver) (context.Context, error) {
	if _, ok := access.CallerFrom(r.Context()); ok { // a SigV4 signature or the embedding program
		return recv.Authenticate(r.Context(), r.Header.Get("Authorization"), r.UserAgent())
	}
	addr := clientOf(r)
	_, cred, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	id, _, _ := strings.Cut(strings.TrimSpace(cred), ":")
	if len(id) > maxKeyIDLen {
		id = ""
	}
	if err := s.blocked(id, addr); err != nil {
		return nil, err
	}
	ctx, err := recv.Authenticate(r.Context(), r.Header.Get("Authorization"), r.UserAgent())
	if errors.Is(err, ErrUnauthorized) {
		s.limiter.fail(access.DoorChannel, id, addr)
		s.log.Info("authentication failed", "access_key_id", truncate(id, 40), "remote", addr)
	}
	return ctx, err
}

// session returns the live session of a cookie and its principal as the registry has it now:
// a session whose user or key was disabled, expired or deleted ends here.
func (s *Server) session(tok string) (*session, *access.Principal, error) {
	now := s.now()
	sess := s.sessions.get(tok, func(e *session) bool {
		if now.Sub(e.touched) >= s.opts.SessionIdle || now.Sub(e.created) >= s.opts.SessionLifetime {
			return false
		}
		e.touched = now
		return true
	}, false)
	if sess == nil {
		return nil, nil, errUnauthenticated
	}
	p, err := s.keyPrincipal(sess.user, sess.keyID)
	if err == nil && p.Disables() != sess.disables {
		err = access.ErrUnauthenticated // disabled since the login, enabled again
	}
	if errors.Is(err, access.ErrUnauthenticated) {
		s.sessions.delete(tok)
		return nil, nil, errUnauthenticated
	}
	return sess, p, err
}

// keyPrincipal is the principal of user's access key keyID while both are usable.
func (s *Server) keyPrincipal(user, keyID string) (*access.Principal, error) {
	if s.opts.Access == nil {
		return nil, access.ErrUnauthenticated
	}
	_, p, err := s.opts.Access.Secret(keyID)
	if err != nil {
		if errors.Is(err, access.ErrUnauthenticated) {
			return nil, err
		}
		return nil, fmt.Errorf("check session: %w", err)
	}
	if p.User != user {
		return nil, access.ErrUnauthenticated
	}
	return p, nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkCSRF refuses a state-changing request made with the session cookie unless it carries
// the session's CSRF token and does not come from another site. (SameSite=Strict keeps the
// cookie off cross-site requests already; this holds in browsers that ignore SameSite and
// against a sibling subdomain, which is "same-site".)
func (s *Server) checkCSRF(r *http.Request, sess *session) error {
	if safeMethod(r.Method) {
		return nil
	}
	if err := s.crossOrigin.Check(r); err != nil {
		return &apiError{http.StatusForbidden, "forbidden", "cross-origin request refused"}
	}
	got := r.Header.Get(csrfHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
		return &apiError{http.StatusForbidden, "forbidden", "missing or wrong " + csrfHeader + " header: reload the page (GET /api/session returns the token)"}
	}
	return nil
}

func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, p *access.Principal) *session {
	now := s.now()
	sess := &session{csrf: newToken(), user: p.User, keyID: p.KeyID, created: now, touched: now, disables: p.Disables()}
	tok := s.sessions.put(sess, func(e *session) bool {
		return now.Sub(e.touched) >= s.opts.SessionIdle || now.Sub(e.created) >= s.opts.SessionLifetime
	}, func(e *session) time.Time { return e.created })
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: tok, Path: "/",
		MaxAge:   int(s.opts.SessionLifetime / time.Second),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	return sess
}

func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// sessionInfo answers /api/login and /api/session.
type sessionInfo struct {
	Principal   string `json:"principal"`
	User        string `json:"user,omitempty"`
	Admin       bool   `json:"admin"`
	AccessKeyID string `json:"access_key_id"`
	Door        string `json:"door"`
	// CSRFToken goes in the X-CSRF-Token header of every state-changing request made with the
	// session cookie; absent for a bearer request, which needs none.
	CSRFToken string `json:"csrf_token,omitempty"`
}

func infoOf(c access.Caller, csrf string) sessionInfo {
	return sessionInfo{Principal: c.Principal.Name(), User: c.Principal.User, Admin: c.Principal.Admin,
		AccessKeyID: c.KeyID, Door: c.Door, CSRFToken: csrf}
}

// login serves POST /api/login {"access_key_id","secret_access_key"}: a session cookie and
// the session's CSRF token.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	// A foreign page must not log the browser in to an account of the attacker's choosing.
	if err := s.crossOrigin.Check(r); err != nil {
		return &apiError{http.StatusForbidden, "forbidden", "cross-origin request refused"}
	}
	var req struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
	}
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}
	id, secret := strings.TrimSpace(req.AccessKeyID), strings.TrimSpace(req.SecretAccessKey)
	if id == "" || secret == "" {
		if err := s.blocked(id, clientOf(r)); err != nil {
			return err // refused as every attempt of a blocked key id or address is: no record
		}
		s.limiter.fail(access.DoorDashboard, id, clientOf(r))
		return errUnauthenticated
	}
	p, err := s.checkKey(r, access.DoorDashboard, id, secret)
	if err != nil {
		return err
	}
	// A new login gets a new session id (no fixation) and ends the browser's old session.
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		s.sessions.delete(c.Value)
	}
	sess := s.setSessionCookie(w, r, p)
	s.log.Info("logged in", "principal", p.Name(), "access_key_id", id, "remote", clientOf(r))
	writeJSON(w, s.log, http.StatusOK, infoOf(access.Caller{Principal: p, KeyID: id, Door: access.DoorDashboard}, sess.csrf))
	return nil
}

// logout serves POST /api/logout: the session ends at once, on the server.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if ref, ok := r.Context().Value(sessionKey{}).(sessionRef); ok {
		s.sessions.delete(ref.token)
		clearSessionCookie(w, r)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// whoami serves GET /api/session: who the request is authenticated as (401 otherwise, which
// the dashboard takes as "show the login page").
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) error {
	c, _ := access.CallerFrom(r.Context())
	var csrf string
	if ref, ok := r.Context().Value(sessionKey{}).(sessionRef); ok {
		csrf = ref.s.csrf
	}
	writeJSON(w, s.log, http.StatusOK, infoOf(c, csrf))
	return nil
}

// LoginLinkTTL is how long a one-time login link stays valid.
const LoginLinkTTL = 15 * time.Minute

// LoginLink makes a one-time login link for user: the path and query (/login?token=…) that,
// opened once within LoginLinkTTL, logs a browser in as user with its newest usable access key.
// serve --login-link prints it; the token lives only in this process's memory.
func (s *Server) LoginLink(user string) (string, error) {
	if s.opts.Access == nil {
		return "", errors.New("login link: the server has no access registry")
	}
	st, err := s.opts.Access.State()
	if err != nil {
		return "", fmt.Errorf("login link: %w", err)
	}
	var keyID string
	var disables int
	for _, u := range st.Users {
		if u.Name != user {
			continue
		}
		for _, k := range u.Keys {
			if p, err := s.keyPrincipal(user, k.ID); err == nil {
				keyID, disables = k.ID, p.Disables()
			}
		}
	}
	if keyID == "" {
		return "", fmt.Errorf("login link: user %q does not exist, is disabled or has no usable access key (auditlake user create %s --admin)", user, user)
	}
	now := s.now()
	link := &loginLink{user: user, keyID: keyID, created: now, expires: now.Add(LoginLinkTTL), disables: disables}
	tok := s.links.put(link, func(e *loginLink) bool { return !now.Before(e.expires) },
		func(e *loginLink) time.Time { return e.created })
	return "/login?" + url.Values{"token": {tok}}.Encode(), nil
}

// loginPage serves GET /login?token=…: a valid one-time token becomes a session cookie and a
// redirect to the dashboard; a used, expired or unknown one is refused. Without a token it
// sends the browser to the dashboard, which shows the login form.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	tok := r.URL.Query().Get("token")
	if tok == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if r.Method == http.MethodHead {
		// A link checker or preview fetches HEAD: the token is kept for the browser's GET, and
		// the answer says nothing of whether it is valid.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		return
	}
	refuse := func() {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, loginLinkRefused)
	}
	// A link opened from another site is not the operator's: keep the token for the operator.
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		refuse()
		return
	}
	now := s.now()
	link := s.links.get(tok, func(e *loginLink) bool { return now.Before(e.expires) }, true)
	if link == nil {
		s.log.Info("login link refused: unknown, used or expired", "remote", clientOf(r))
		refuse()
		return
	}
	p, err := s.keyPrincipal(link.user, link.keyID)
	if err == nil && p.Disables() != link.disables {
		err = access.ErrUnauthenticated // disabled since the link was made, enabled again
	}
	if err != nil {
		s.log.Info("login link refused: user or key no longer usable", "user", link.user, "remote", clientOf(r))
		refuse()
		return
	}
	s.setSessionCookie(w, r, p)
	s.log.Info("logged in with a login link", "principal", "user:"+link.user, "remote", clientOf(r))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

const loginLinkRefused = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>auditlake · login link</title></head>
<body style="font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem">
<h1>This login link does not work</h1>
<p>A login link works once, for 15 minutes. Ask for a new one (<code>auditlake serve --login-link USER</code>) or <a href="/">log in with an access key</a>.</p>
</body></html>
`
