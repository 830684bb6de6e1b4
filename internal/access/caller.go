package access

import "context"

// Doors a request comes in by, as the audit log names them.
const (
	DoorCLI       = "cli"      // the CLI acting on the data directory (query --as)
	DoorAPI       = "api"      // the JSON API with a bearer key
	DoorDashboard = "web"      // the dashboard with a session cookie
	DoorAWS       = "aws"      // the CloudTrail Lake API (SigV4)
	DoorPostgres  = "pg"       // the Postgres wire protocol
	DoorChannel   = "channel"  // PutAuditEvents with a channel's access key
	DoorInternal  = "internal" // the server itself (collection, detections)
)

// Caller is an authenticated request as every door hands it to the backend: who (Principal, never
// nil once authenticated), with which access key, through which door, from where. The backend
// restricts queries to Principal's grants and the audit log records the rest.
type Caller struct {
	Principal *Principal
	KeyID     string
	Door      string
	SourceIP  string
	UserAgent string
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller WithCaller put in ctx; ok is false when there is none (an
// unauthenticated context: the backend refuses it rather than assume the operator).
func CallerFrom(ctx context.Context) (c Caller, ok bool) {
	c, ok = ctx.Value(callerKey{}).(Caller)
	return c, ok && c.Principal != nil
}
