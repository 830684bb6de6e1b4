package cli

import "time"

// SetExitDeliveryGrace sets how long an ingest waits at its end for the alerts' deliveries
// (exitDeliveryGrace) until the test ends.
func SetExitDeliveryGrace(t interface{ Cleanup(func()) }, d time.Duration) {
	old := exitDeliveryGrace
	exitDeliveryGrace = d
	t.Cleanup(func() { exitDeliveryGrace = old })
}
