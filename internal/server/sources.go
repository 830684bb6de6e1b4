package server

import (
	"fmt"
	"net/http"

	"github.com/auditlake/auditlake/internal/access"
)

// sources answers GET /api/sources: the collection sources' states and the stores' freshness
// (Options.Sources), for the dashboard's Sources page. The overview names every store with its
// rows, files and newest event, and the sources' buckets and errors: it is shown to principals
// who may manage (as GET /metrics, which says the same); others get 403, whatever their
// grants — a store a principal may not read is absent for it everywhere else.
func (s *Server) sources(w http.ResponseWriter, r *http.Request) error {
	if !mayManage(r) {
		return errOverviewForbidden
	}
	if s.opts.Sources == nil {
		writeJSON(w, s.log, http.StatusOK, map[string]any{"sources": []any{}, "stores": []any{}})
		return nil
	}
	v, err := s.opts.Sources(r.Context())
	if err != nil {
		return fmt.Errorf("read sources: %w", err)
	}
	writeJSON(w, s.log, http.StatusOK, v)
	return nil
}

var errOverviewForbidden = &apiError{http.StatusForbidden, "forbidden", "the sources, the stores' sizes and freshness (GET /api/sources, GET /metrics) are shown to principals who may manage"}

// mayManage says whether the request's caller may manage (an admin, a manage grant).
func mayManage(r *http.Request) bool {
	c, _ := access.CallerFrom(r.Context())
	return c.Principal != nil && c.Principal.CanManage()
}
