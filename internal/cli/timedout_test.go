package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestTimedOutSaysWhyADeliveryEnded: a delivery ended by the exit's deadline had no answer in
// time; one ended because the ingest was interrupted (Ctrl-C) says so instead, where it said
// "no answer within 5s of the last commit" too. Other errors are left as they are, and the
// deadline's errors stay context errors.
func TestTimedOutSaysWhyADeliveryEnded(t *testing.T) {
	other := errors.New("webhook ops: HTTP 500")
	for _, c := range []struct {
		err         error
		interrupted bool
		want        string
	}{
		{fmt.Errorf("webhook ops: %w", context.Canceled), false, "webhook ops: context canceled (no answer within 5s of the last commit)"},
		{fmt.Errorf("webhook ops: %w", context.DeadlineExceeded), false, "webhook ops: context deadline exceeded (no answer within 5s of the last commit)"},
		{fmt.Errorf("webhook ops: %w", context.Canceled), true, "webhook ops: context canceled (the ingest was interrupted)"},
		{other, false, other.Error()},
		{other, true, other.Error()},
	} {
		got := timedOut([]error{c.err}, c.interrupted, 5*time.Second)
		if len(got) != 1 || got[0].Error() != c.want {
			t.Errorf("%v (interrupted %v): %v, want %q", c.err, c.interrupted, got, c.want)
		}
		if strings.Contains(c.want, "(") && !errors.Is(got[0], context.Canceled) && !errors.Is(got[0], context.DeadlineExceeded) {
			t.Errorf("%v: no longer a context error", got[0])
		}
	}
}
