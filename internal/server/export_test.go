package server

import "time"

// SetClock makes s read the time from now: sessions, login links and failure windows expire
// in a test without waiting.
func SetClock(s *Server, now func() time.Time) { s.now = now }
