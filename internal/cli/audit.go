package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/access"
	"github.com/auditlake/auditlake/internal/auditlog"
	"github.com/auditlake/auditlake/internal/lake"
	"github.com/auditlake/auditlake/internal/query"
	"github.com/auditlake/auditlake/internal/server"
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
	// What is detected, alerted and kept: a rule switched off, an alert closed or events purged
	// by hand are what a compliance review looks for.
	"rule add": "CreateRule", "rule remove": "DeleteRule", "rule enable": "EnableRule", "rule disable": "DisableRule",
	"rule group": "UpdateRuleGrouping", "alert ack": "AcknowledgeAlert", "alert close": "CloseAlert",
	"alert-target add": "CreateAlertTarget", "alert-target remove": "DeleteAlertTarget",
	"eds purge": "PurgeEvents", "eds publish": "PublishEventDataStore", "eds repair": "RepairEventDataStore",
	"catalog set": "UpdateCatalog",
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
	if err := recordAudit(ctx, env, e); err != nil {
		fmt.Fprintf(env.Stderr, "auditlake: warning: %v\n", err) // the change is made: it is not undone
	}
}

// recordAudit records one entry in the audit log of env's data directory: appended to its
// spool and on disk when it returns (auditlog.Append: a few ms, where a commit of its own cost a
// CLI process ~45 ms); the process that finds the spool past auditlog.SpoolFoldBytes folds it
// into the audit store (as serve does every second, and validate-logs). A failure to append is
// returned; one to fold is reported on stderr (the entry is safe in the spool).
func recordAudit(ctx context.Context, env *Env, e auditlog.Entry) error {
	lk, err := lake.Open(env.DataDir)
	if err != nil {
		return nil // no data directory: nothing was done to audit
	}
	size, err := auditlog.Append(lk, e)
	if err != nil {
		return fmt.Errorf("the audit log cannot record %s: %w", e.Action, err)
	}
	if size >= auditlog.SpoolFoldBytes {
		foldAudit(ctx, env, lk)
	}
	return nil
}

// foldAudit folds the audit spool into the audit store, warning on stderr of what it could not.
func foldAudit(ctx context.Context, env *Env, lk *lake.Lake) {
	l := auditlog.Open(lk)
	l.SpoolProblem = func(p string) { fmt.Fprintf(env.Stderr, "auditlake: warning: %s\n", p) }
	if err := l.Flush(context.WithoutCancel(ctx)); err != nil {
		fmt.Fprintf(env.Stderr, "auditlake: warning: the audit spool was not folded into %s (its records are kept): %v\n", auditlog.StoreName, err)
	}
}

// auditQuery records one query of the CLI; its result is shown only once it is recorded.
func auditQuery(ctx context.Context, env *Env, as, sql string, tables []string, rows int64, d time.Duration, err error) error {
	e := auditlog.Entry{Principal: access.Operator().Name(), As: as, Door: "cli", Action: "StartQuery",
		SQL: sql, Tables: tables, Rows: rows, Duration: d}
	if err != nil {
		e.ErrorCode, e.ErrorMessage = "QueryFailed", err.Error()
	}
	return recordAudit(ctx, env, e)
}

// auditRead records a read of event data by a CLI command other than query (alerts, hunt, rule
// coverage, the reports, instance) as the server records the same read of its API (/api/alerts,
// /api/hunt, the report endpoints): a StartQuery event with what was asked, the tables read,
// the rows shown and the outcome, started at start. A usage error read nothing and is not
// recorded. The caller shows the result only once this returns nil, as query does.
func auditRead(ctx context.Context, env *Env, e auditlog.Entry, start time.Time, err error) error {
	var ue *UsageError
	if errors.As(err, &ue) {
		return nil
	}
	e.Principal, e.Door, e.Action, e.Duration = access.Operator().Name(), "cli", "StartQuery", time.Since(start)
	if err != nil {
		e.ErrorCode, e.ErrorMessage = "QueryFailed", err.Error()
		var nf *NotFoundError
		if errors.As(err, &nf) || errors.Is(err, lake.ErrNotFound) {
			e.ErrorCode = "NotFound" // as the server's: a probe for a store or an instance shows
		}
	}
	return recordAudit(ctx, env, e)
}

// checkAuditRead returns the error recording a read would meet, before a command that writes
// its result as it reads it (hunt) shows any of it.
func checkAuditRead(env *Env) error {
	lk, err := lake.Open(env.DataDir)
	if err != nil {
		return nil
	}
	if err := auditlog.CheckSpool(lk); err != nil {
		return fmt.Errorf("the audit log cannot record StartQuery: %w", err)
	}
	return nil
}

// storeTables names store nameOrID as a query's tablesRead does ("aws:cloudtrail.<id>"); none
// when there is no such store.
func storeTables(lk *lake.Lake, nameOrID string) []string {
	st, err := lk.Resolve(nameOrID)
	if err != nil {
		return nil
	}
	return []string{query.Schema + "." + st.ID}
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
		case i > 0 && isURLFlag(args[i-1]) && !strings.Contains(args[i-1], "="):
			out[i] = redactURL(a)
			continue
		case isURLFlag(a) && strings.Contains(a, "="):
			k, v, _ := strings.Cut(a, "=")
			out[i] = k + "=" + redactURL(v)
			continue
		}
		out[i] = a
	}
	return out
}

// isURLFlag says whether flag a takes a URL whose path and query may hold a token (a webhook's:
// Slack's, Discord's and Teams' do).
func isURLFlag(a string) bool {
	return strings.HasPrefix(a, "-") && strings.Contains(strings.ToLower(a), "webhook")
}

// redactURL keeps a URL's scheme and host, as alert-target list shows a destination.
func redactURL(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return "REDACTED"
	}
	return u.Scheme + "://" + u.Host + "/REDACTED"
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

// auditFailure records serve's failed authentications in the audit log (server.Failure): an
// Authenticate record with the door, the access key id tried and the address, or a summary of
// those of a minute past server.MaxReportedFailures.
func auditFailure(l *auditlog.Log) func(server.Failure) {
	return func(f server.Failure) {
		e := auditlog.Entry{Time: f.Time, Principal: auditlog.Anonymous, KeyID: f.KeyID, Door: f.Door, Action: "Authenticate",
			SourceIP: f.Addr, ErrorCode: "AuthenticationFailed", ErrorMessage: "the credentials were refused"}
		if f.More > 0 {
			e.ErrorMessage = fmt.Sprintf("%d more failed authentications in the minute before this record's time, at %s: past %d a minute they are counted, not recorded one by one",
				f.More, f.Door, server.MaxReportedFailures)
			e.Params = map[string]any{"failures": f.More}
		}
		l.Record(e)
	}
}
