package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/lake"
)

// auditedCommands are the administrative commands the audit log records, with their event
// names. query records itself (it knows the tables read and the rows returned).
var auditedCommands = map[string]string{
	"user create": "CreateUser", "user disable": "DisableUser", "user enable": "EnableUser",
	"user rotate-key": "RotateAccessKey", "user create-key": "CreateAccessKey", "user delete": "DeleteUser",
	"role create": "CreateRole", "role delete": "DeleteRole",
	"role add-member": "AddRoleMember", "role remove-member": "RemoveRoleMember",
	"grant select": "GrantPermissions", "grant manage": "GrantPermissions", "grant put": "GrantPermissions", "revoke": "RevokePermissions",
	"eds create": "CreateEventDataStore", "eds update": "UpdateEventDataStore", "eds delete": "DeleteEventDataStore",
	"cur register": "RegisterCostTable", "cur remove": "DeregisterCostTable",
	"channel create": "CreateChannel", "channel delete": "DeleteChannel",
	"token create": "CreateToken", "token delete": "DeleteToken",
	"source add": "CreateSource", "source remove": "DeleteSource", "source pause": "PauseSource", "source resume": "ResumeSource",
}

// auditCommand records an administrative command run by the operator, with its outcome.
// Usage errors and help did nothing and are not recorded; a failure to record is reported on
// stderr and does not change the command's exit code.
func auditCommand(ctx context.Context, env *Env, cmd *Command, args []string, err error) {
	action, ok := auditedCommands[cmd.Name]
	var ue *UsageError
	if !ok || errors.Is(err, flag.ErrHelp) || errors.As(err, &ue) {
		return
	}
	e := auditlog.Entry{Principal: access.Operator().Name(), Door: "cli", Action: action,
		Params: map[string]any{"command": cmd.Name, "arguments": redact(args)}}
	if err != nil {
		e.ErrorCode, e.ErrorMessage = "Failed", err.Error()
	}
	recordAudit(ctx, env, e)
}

// recordAudit commits one entry to the audit log of env's data directory at once (a CLI
// command is one process).
func recordAudit(ctx context.Context, env *Env, e auditlog.Entry) {
	lk, err := lake.Open(env.DataDir)
	if err != nil {
		return // no data directory: nothing was done to audit
	}
	l := auditlog.Open(lk)
	l.Record(e)
	if err := l.Flush(context.WithoutCancel(ctx)); err != nil {
		fmt.Fprintf(env.Stderr, "auditlake: warning: the audit log did not record %s: %v\n", e.Action, err)
	}
}

// auditQuery records one query of the CLI.
func auditQuery(ctx context.Context, env *Env, as, sql string, tables []string, rows int64, d time.Duration, err error) {
	e := auditlog.Entry{Principal: access.Operator().Name(), As: as, Door: "cli", Action: "StartQuery",
		SQL: sql, Tables: tables, Rows: rows, Duration: d}
	if err != nil {
		e.ErrorCode, e.ErrorMessage = "QueryFailed", err.Error()
	}
	recordAudit(ctx, env, e)
}

// redact hides the values of flags that carry secrets.
func redact(args []string) []string {
	out := make([]string, len(args))
	hide := false
	for i, a := range args {
		switch {
		case hide:
			out[i], hide = "REDACTED", false
			continue
		case isSecretFlag(a):
			if k, _, ok := strings.Cut(a, "="); ok {
				out[i] = k + "=REDACTED"
				continue
			}
			hide = true
		}
		out[i] = a
	}
	return out
}

func isSecretFlag(a string) bool {
	a = strings.ToLower(strings.TrimLeft(a, "-"))
	for _, w := range []string{"secret", "password", "token", "key"} {
		if strings.Contains(a, w) && !strings.HasPrefix(a, "key-") {
			return true
		}
	}
	return false
}

// checkWritable refuses to ingest into a built-in store (the audit log, the alerts).
func checkWritable(s lake.Store) error {
	if s.Builtin() {
		return fmt.Errorf("cannot ingest into %s: %w", s.Name, lake.ErrBuiltin)
	}
	return nil
}
