package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// session is a dashboard login: the user and the access key it logged in with (revalidated
// against the registry on every request, so disabling either ends it), its CSRF token and its
// times. Sessions live in memory only: a restart logs everyone out.
type session struct {
	csrf             string
	user, keyID      string
	created, touched time.Time
	// disables is the principal's Disables at login: a disable of the user or key since ends
	// the session even when the user or key is enabled again before the session's next request.
	disables int
}

// tokenStore holds sessions or one-time login links by the SHA-256 of their random token, so
// a lookup's timing says nothing about a token's bytes and the memory holds no usable cookie.
type tokenStore[T any] struct {
	mu  sync.Mutex
	m   map[[32]byte]*T
	max int
	// owner, when set, names an entry's owner, who holds at most perOwner entries: a put past
	// that drops the owner's oldest, so one user logging in again and again cannot push
	// everyone else's sessions out of a full store.
	owner    func(*T) string
	perOwner int
}

func newTokenStore[T any](max int) *tokenStore[T] {
	return &tokenStore[T]{m: map[[32]byte]*T{}, max: max}
}

// newToken returns 256 random bits as URL-safe text.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// put stores v under a new token and returns the token. When the store is full, expired
// entries are dropped first, then the oldest (by created) until there is room.
func (st *tokenStore[T]) put(v *T, expired func(*T) bool, created func(*T) time.Time) string {
	tok := newToken()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.owner != nil {
		who := st.owner(v)
		var oldest [32]byte
		var at time.Time
		n := 0
		for k, e := range st.m {
			if st.owner(e) != who {
				continue
			}
			if expired(e) {
				delete(st.m, k)
				continue
			}
			n++
			if c := created(e); at.IsZero() || c.Before(at) {
				oldest, at = k, c
			}
		}
		if n >= st.perOwner {
			delete(st.m, oldest)
		}
	}
	if len(st.m) >= st.max {
		for k, e := range st.m {
			if expired(e) {
				delete(st.m, k)
			}
		}
		for len(st.m) >= st.max {
			var oldest [32]byte
			var at time.Time
			for k, e := range st.m {
				if c := created(e); at.IsZero() || c.Before(at) {
					oldest, at = k, c
				}
			}
			delete(st.m, oldest)
		}
	}
	st.m[sha256.Sum256([]byte(tok))] = v
	return tok
}

// get returns the entry of tok, or nil when there is none or use says it is no longer
// valid (then it is dropped). use runs under the store's lock, so it may update the entry (a
// session's last use). take also removes the entry: a one-time token works once.
func (st *tokenStore[T]) get(tok string, use func(*T) bool, take bool) *T {
	k := sha256.Sum256([]byte(tok))
	st.mu.Lock()
	defer st.mu.Unlock()
	e := st.m[k]
	if e == nil {
		return nil
	}
	ok := use(e)
	if take || !ok {
		delete(st.m, k)
	}
	if !ok {
		return nil
	}
	return e
}

func (st *tokenStore[T]) delete(tok string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.m, sha256.Sum256([]byte(tok)))
}

// loginLink is a one-time login token made by the operator (serve --login-link USER).
type loginLink struct {
	user, keyID      string
	created, expires time.Time
	disables         int // as session.disables, when the link was made
}
