package app

import (
	"context"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/engine"
	"github.com/auditlake/auditlake/internal/query"
)

// restrictedSession runs fn in a session of its own restricted to the grants of the caller in
// ctx, when there is a caller who is not an admin; ok is false otherwise (the pooled sessions
// serve the request). A stand-in until per-principal pooled sessions (issue 16, "govern")
// replace it: the AWS door needs a row-filtered principal to see only its rows.
func (b *Backend) restrictedSession(ctx context.Context, fn func(context.Context, *query.Session) error) (ok bool, err error) {
	c, has := access.CallerFrom(ctx)
	if !has || c.Principal.Admin {
		return false, nil
	}
	t, err := b.admit.acquire(ctx, c.Principal.Name())
	if err != nil {
		return true, err
	}
	defer b.admit.release(t)
	o := b.opts
	o.Principal = c.Principal
	s, err := query.Open(ctx, b.lk, o)
	if err != nil {
		return true, err
	}
	defer s.Close()
	return true, fn(ctx, s)
}

// runAs runs sql for a non-admin caller; see restrictedSession.
func (b *Backend) runAs(ctx context.Context, sql string, maxRows int) (res *engine.Result, ok bool, err error) {
	ok, err = b.restrictedSession(ctx, func(ctx context.Context, s *query.Session) error {
		s.SetMaxRows(maxRows)
		var err error
		res, err = s.Run(ctx, sql)
		return translate(err)
	})
	return res, ok, err
}
