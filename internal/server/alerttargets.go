package server

import (
	"fmt"
	"net/http"

	"github.com/auditlake/auditlake/internal/access"
)

// alertTargets answers GET /api/alert-targets: the alert targets with their delivery health
// ([{name, kind, destination, last_success, last_error, last_error_at, consecutive_failures,
// queued}], destinations without secrets), from Options.AlertTargets. Who may see it: a
// principal who may manage (an admin, a manage grant) or who may read the alerts store (a
// select grant on it, or on all); others get 403.
func (s *Server) alertTargets(w http.ResponseWriter, r *http.Request) error {
	c, _ := access.CallerFrom(r.Context())
	if s.opts.AlertTargets == nil {
		if c.Principal == nil || !c.Principal.CanManage() {
			return errAlertTargetsForbidden
		}
		writeJSON(w, s.log, http.StatusOK, []any{})
		return nil
	}
	list, alertsStoreID, err := s.opts.AlertTargets(r.Context())
	if err != nil {
		return fmt.Errorf("read alert targets: %w", err)
	}
	if !mayReadAlertTargets(c.Principal, alertsStoreID) {
		return errAlertTargetsForbidden
	}
	writeJSON(w, s.log, http.StatusOK, list)
	return nil
}

var errAlertTargetsForbidden = &apiError{http.StatusForbidden, "forbidden", "the alert targets are shown to principals who may manage, or read the alerts store auditlake-alerts"}

func mayReadAlertTargets(p *access.Principal, alertsStoreID string) bool {
	if p == nil {
		return false
	}
	if p.CanManage() {
		return true
	}
	if alertsStoreID == "" {
		return false
	}
	ta := p.Table("store:" + alertsStoreID)
	return ta == nil || len(ta.Rules) > 0
}
