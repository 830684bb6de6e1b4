package server

import (
	"fmt"
	"net/http"
)

// sources answers GET /api/sources: the collection sources' states and the stores' freshness
// (Options.Sources), for the dashboard's Sources page.
func (s *Server) sources(w http.ResponseWriter, r *http.Request) error {
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
