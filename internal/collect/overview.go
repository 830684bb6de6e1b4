package collect

import (
	"time"

	"github.com/auditlake/auditlake/internal/lake"
)

// StoreFreshness is how current one store is: its newest event and how far behind now it is.
type StoreFreshness struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	Rows        int64     `json:"rows"`
	Files       int       `json:"files"`
	NewestEvent time.Time `json:"newest_event,omitzero"`
	// Lag is now minus the newest event, in seconds (0 for an empty store).
	LagSeconds float64 `json:"lag_seconds"`
	Error      string  `json:"error,omitempty"`
}

// Overview is what GET /api/sources answers: every source's status and every store's freshness.
type Overview struct {
	Sources []Status         `json:"sources"`
	Stores  []StoreFreshness `json:"stores"`
}

// Overview reads the sources' statuses and the stores' committed manifests.
func (r *Registry) Overview(lk *lake.Lake, now time.Time) (Overview, error) {
	sts, err := r.Statuses(now)
	if err != nil {
		return Overview{}, err
	}
	if sts == nil {
		sts = []Status{}
	}
	ov := Overview{Sources: sts, Stores: []StoreFreshness{}}
	stores, err := lk.Stores()
	if err != nil {
		return Overview{}, err
	}
	for _, s := range stores {
		f := StoreFreshness{ID: s.ID, Name: s.Name, Type: s.Type}
		m, err := lk.ReadManifest(s.ID)
		if err != nil {
			f.Error = err.Error()
		} else {
			f.Rows, f.Files = m.Rows(), len(m.Files)
			for _, df := range m.Files {
				if df.MaxTime.After(f.NewestEvent) {
					f.NewestEvent = df.MaxTime
				}
			}
			if !f.NewestEvent.IsZero() {
				f.LagSeconds = now.Sub(f.NewestEvent).Seconds()
			}
		}
		ov.Stores = append(ov.Stores, f)
	}
	return ov, nil
}
