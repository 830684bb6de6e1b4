package cli

import "github.com/auditlake/auditlake/internal/access"

// commands is the command table. Each entry's Run lives in the file named after it.
var commands []Command

func init() {
	commands = []Command{
		{Name: "eds create", Summary: "create an event data store and print its id", Run: runEDSCreate,
			Usage:    "Usage: auditlake eds create [--retention-days N] [--type cloudtrail|config|activity] [--termination-protection] [--output text|json] NAME\n\nCreates an event data store. Prints its id (a UUID); the store is queryable as \"aws:cloudtrail\".\"<id>\".",
			Examples: "  auditlake eds create prod-trail --retention-days 2557\n  auditlake eds create prod-trail --output json"},
		{Name: "eds list", Summary: "list event data stores", Run: runEDSList,
			Usage: "Usage: auditlake eds list [--output table|json]", Examples: "  auditlake eds list --output json"},
		{Name: "eds show", Summary: "show one event data store", Run: runEDSShow,
			Usage:    "Usage: auditlake eds show [--output text|json] NAME|ID\n\nShows a store and its status: ok, or damaged (a lost or invalid manifest, missing or damaged files; exit 4,\nrecover with auditlake eds repair).",
			Examples: "  auditlake eds show prod-trail"},
		{Name: "eds update", Summary: "change retention, name or termination protection", Run: runEDSUpdate,
			Usage:    "Usage: auditlake eds update [--retention-days N [--yes]] [--termination-protection on|off] [--name NEW] NAME|ID\n       auditlake eds update --local-days N [--cache-size SIZE] NAME|ID   (a published store: see eds publish)",
			Examples: "  auditlake eds update prod-trail --retention-days 3653\n  auditlake eds update prod-trail --termination-protection off\n  auditlake eds update prod-trail --local-days 7 --cache-size 50GiB"},
		{Name: "eds delete", Summary: "delete an event data store and its files", Run: runEDSDelete,
			Usage: "Usage: auditlake eds delete --yes NAME|ID\n\nDeletes the store and all its events; --yes confirms it, as for other destructive changes. Refuses while\ntermination protection is on.", Examples: "  auditlake eds delete old-trail --yes"},
		{Name: "eds compact", Summary: "merge each date partition's files into one sorted file", Run: runEDSCompact,
			Usage:    "Usage: auditlake eds compact NAME|ID\n\nIngest merges a date partition's small files (under 16 MB) when it has more than 4 of them, in\ngroups of at most 32 MB, and merges a closed day (two days behind the newest event) into one file.\ncompact merges, in every date partition, all files under 32 MB into files sorted by event source,\nevent name and event time (the order Parquet statistics skip by), and computes the EC2 lifecycle\nfacts of files written before auditlake kept them, in one atomic commit. Readers are never\ndisturbed: files they use are deleted only when they are done.",
			Examples: "  auditlake eds compact prod-trail"},
		{Name: "eds publish", Summary: "make S3 the home of a store's Iceberg table; every commit follows", Run: runEDSPublish, Usage: edsPublishUsage, Examples: edsPublishExamples},
		{Name: "eds repair", Summary: "rebuild a damaged store's manifest from its files; set damaged files aside", Run: runEDSRepair,
			Usage: "Usage: auditlake eds repair [--output text|json] NAME|ID\n\n" +
				"Recovers a store that is damaged (eds show says status: damaged): its manifest.json is missing or invalid,\n" +
				"or files it names are missing or not readable Parquet. With a valid manifest, each file it names is verified\n" +
				"(footer, schema, rows) and the missing or damaged ones are dropped. Without one, the manifest is rebuilt from\n" +
				"the Parquet files under the store's data/ directory: each verified the same way and described again (rows,\n" +
				"time span), its EC2 lifecycle facts kept or computed, the ingest state kept; a file whose events are all in\n" +
				"another file of its date is redundant. Damaged and redundant files are moved to the store's quarantine/\n" +
				"directory, never deleted, and listed. The new manifest is committed atomically. Exit code 3 means files were\n" +
				"dropped: re-ingest their sources to restore their events.",
			Examples: "  auditlake eds repair prod-trail\n  auditlake eds repair prod-trail --output json"},
		{Name: "eds purge", Summary: "delete events older than each store's retention", Run: runEDSPurge,
			Usage:    "Usage: auditlake eds purge [NAME|ID...]\n\nDeletes, in one atomic commit per store, the events older than the store's retention\n(measured on eventtime). With no names, purges every store. serve also purges at start and daily.",
			Examples: "  auditlake eds purge\n  auditlake eds purge prod-trail"},
		{Name: "ingest cloudtrail", Summary: "ingest CloudTrail files from local paths or S3", Run: runIngestCloudTrail,
			Usage: "Usage: auditlake ingest cloudtrail --eds NAME|ID [--from T] [--to T] [--profile P] [--region R] [--endpoint-url URL] SOURCE...\n\n" +
				"A SOURCE is a file, a directory (read recursively) or s3://bucket/prefix. Every shape CloudTrail data comes in is read:\n" +
				"{\"Records\":[...]} delivery files, JSON arrays, JSON Lines, 'aws cloudtrail lookup-events' output, EventBridge events;\n" +
				"gzip or plain. CloudTrail-Digest files are skipped. Ingest is incremental (unchanged files are skipped) and\n" +
				"idempotent (events are deduplicated on eventid + recipientaccountid). Exit code 3 means some input was bad:\n" +
				"the problems are listed and the good events were committed; a file that failed is read and reported again\n" +
				"by every run until it changes. --from/--to: dates are inclusive (--to 2026-03-31 covers all of that day).\n" +
				"Interrupted (Ctrl-C), it says what was committed and exits 3: run it again to continue.",
			Examples: "  auditlake ingest cloudtrail --eds prod-trail ./AWSLogs\n  auditlake ingest cloudtrail --eds prod-trail s3://my-trail-bucket/AWSLogs/o-abc123/ --from 2026-01-01\n  auditlake ingest cloudtrail --eds prod-trail --endpoint-url http://127.0.0.1:9000 s3://bucket/AWSLogs/"},
		{Name: "query", Summary: "run SQL (Trino/Athena/CloudTrail Lake dialect) over the stores", Run: runQuery,
			Usage: "Usage: auditlake query [--format table|csv|json|jsonl] [--csv-safe] [--timeout D] [--max-rows N] [--deliver s3://BUCKET/PREFIX|DIR] SQL | -f FILE | < FILE\n\n" +
				"Every event data store is the table \"aws:cloudtrail\".\"<store id>\" (also by name; a bare store id after FROM works\n" +
				"as in AWS's samples). Only SELECT is allowed; files outside the registered tables cannot be read.\n" +
				"CSV holds the exact values by default. For a file a spreadsheet will open, add --csv-safe: text cells that start\n" +
				"with = + - @ (or tab, CR) get a leading ' so they are not run as formulas (event fields are attacker-controlled).\n" +
				"--deliver writes the result as CloudTrail Lake delivers results (AWSLogs/<account>/CloudTrail-Lake/Query/<yyyy>/<mm>/<dd>/<id>/\n" +
				"result_N.csv.gz and result_sign.json, signed with this data directory's key: auditlake delivery-key) for\n" +
				"auditlake verify-query-results or an auditor's own check.",
			Examples: "  auditlake query \"SELECT eventname, count(*) FROM \\\"aws:cloudtrail\\\".\\\"<store id>\\\" GROUP BY 1 ORDER BY 2 DESC\"\n  auditlake query --format csv -f seed-query-1.sql\n  auditlake query --format csv --csv-safe -f seed-query-1.sql > for-excel.csv\n  auditlake query --deliver s3://audit-results/ -f evidence.sql"},
		{Name: "validate-logs", Summary: "validate CloudTrail log file integrity (digests, signatures, hashes)", Run: runValidateLogs, Usage: validateLogsUsage, Examples: validateLogsExamples},
		{Name: "serve", Summary: "serve the web dashboard and JSON API", Usage: serveUsage, Examples: serveExamples, Run: runServe},
		{Name: "generate", Summary: "write a synthetic organization's CloudTrail files and their truth.json", Usage: generateUsage, Examples: generateExamples, Run: runGenerate},
		{Name: "ingest config", Summary: "ingest AWS Config items (snapshots, history, notifications) from local paths or S3", Usage: ingestConfigUsage, Examples: ingestConfigExamples, Run: runIngestConfig},
		{Name: "report config-rule", Summary: "evaluate the Config rule autoscaling-launch-template over stored Config items", Usage: reportConfigRuleUsage, Examples: reportConfigRuleExamples, Run: runReportConfigRule},
		{Name: "report launch-compliance", Summary: "per-instance launch-template compliance, launcher and cost", Usage: reportComplianceUsage, Examples: reportComplianceExamples, Run: runReportCompliance},
		{Name: "report daily-spend", Summary: "daily EC2 spend split by launch-template approval status", Usage: reportDailyUsage, Examples: reportDailyExamples, Run: runReportDaily},
		{Name: "instance", Summary: "audit trail of one EC2 instance: template, launch, state, tags, end, cost", Usage: instanceUsage, Examples: instanceExamples, Run: runInstance},
		{Name: "cur register", Summary: "make CUR/FOCUS files a table \"DATABASE\".\"TABLE\" (queried in place)", Usage: curRegisterUsage, Examples: curRegisterExamples, Run: runCurRegister},
		{Name: "cur list", Summary: "list registered cost tables", Usage: "Usage: auditlake cur list [--output table|json]", Examples: "  auditlake cur list --output json", Run: runCurList},
		{Name: "cur show", Summary: "show a cost table: format, files, periods, rows, columns", Usage: "Usage: auditlake cur show [--output text|json] DATABASE.TABLE", Examples: "  auditlake cur show cur.cur_2026", Run: runCurShow},
		{Name: "cur remove", Summary: "forget a cost table (its files are not touched)", Usage: "Usage: auditlake cur remove DATABASE.TABLE", Examples: "  auditlake cur remove cur.cur_2026", Run: runCurRemove},
		{Name: "catalog set", Summary: "publish every store as an Iceberg table in a catalog (sql, rest, glue)", Usage: catalogSetUsage, Examples: catalogSetExamples, Run: runCatalogSet},
		{Name: "catalog show", Summary: "print the Iceberg catalog's properties (--output json: what iceberg-go's catalog.Load takes)", Usage: "Usage: auditlake catalog show [--output text|json]", Examples: "  auditlake catalog show --output json", Run: runCatalogShow},
		{Name: "catalog sync", Summary: "bring the Iceberg tables up to their stores (after a crash, or a catalog outage); delete old metadata files no snapshot names", Usage: catalogSyncUsage, Examples: "  auditlake catalog sync\n  auditlake catalog sync prod-trail", Run: runCatalogSync},
		{Name: "athena ddl", Summary: "print Athena DDL (Iceberg table, Lake-named view, partition projection) for a store", Usage: athenaDDLUsage, Examples: "  auditlake athena ddl prod-trail\n  auditlake athena ddl prod-trail --location s3://lake-bucket/auditlake/prod-trail/", Run: runAthenaDDL},
		{Name: "channel create", Summary: "create a channel that feeds external audit events to an activity store", Usage: channelCreateUsage, Examples: channelCreateExamples, Run: runChannelCreate},
		{Name: "channel list", Summary: "list channels", Usage: "Usage: auditlake channel list [--output table|json]", Examples: "  auditlake channel list --output json", Run: runChannelList},
		{Name: "channel delete", Summary: "delete a channel (its events stay in the store)", Usage: "Usage: auditlake channel delete NAME|ARN|ID", Examples: "  auditlake channel delete my-app", Run: runChannelDelete},
		{Name: "token create", Summary: "create a channel token (a user with an access key and a put grant on the channels) and print it once", Usage: tokenCreateUsage, Examples: "  auditlake token create --channel my-app ci-pipeline", Run: runTokenCreate},
		{Name: "token list", Summary: "list channel tokens (users with put grants) and their channels", Usage: "Usage: auditlake token list", Examples: "  auditlake token list", Run: runTokenList},
		{Name: "token delete", Summary: "revoke a channel token (delete its user, keys and grants)", Usage: "Usage: auditlake token delete NAME", Examples: "  auditlake token delete ci-pipeline", Run: runTokenDelete},
		{Name: "user create", Summary: "create a user with an access key (the secret is printed once)", Usage: userCreateUsage, Run: runUserCreate,
			Examples: "  auditlake user create alice --admin\n  auditlake user create bob --output json"},
		{Name: "user list", Summary: "list users, their roles and access keys (never secrets)", Usage: "Usage: auditlake user list [--output table|json]", Run: runUserList,
			Examples: "  auditlake user list --output json"},
		{Name: "user disable", Summary: "disable a user, or one of its access keys", Usage: "Usage: auditlake user disable [--key ID] NAME", Run: runUserSetDisabled(true),
			Examples: "  auditlake user disable bob\n  auditlake user disable bob --key ALAKEXAMPLE"},
		{Name: "user enable", Summary: "enable a user, or one of its access keys", Usage: "Usage: auditlake user enable [--key ID] NAME", Run: runUserSetDisabled(false),
			Examples: "  auditlake user enable bob"},
		{Name: "user rotate-key", Summary: "give a user a new access key and disable its older ones", Usage: "Usage: auditlake user rotate-key [--expires DATE] [--output text|json] NAME", Run: runUserKey(true),
			Examples: "  auditlake user rotate-key bob"},
		{Name: "user create-key", Summary: "add an access key to a user (the old ones keep working)", Usage: "Usage: auditlake user create-key [--expires DATE] [--output text|json] NAME", Run: runUserKey(false),
			Examples: "  auditlake user create-key bob --expires 2027-01-01"},
		{Name: "user delete", Summary: "delete a user, its keys and its grants", Usage: "Usage: auditlake user delete --yes NAME", Run: runUserDelete,
			Examples: "  auditlake user delete bob --yes"},
		{Name: "role create", Summary: "create a role (a group of users that grants apply to)", Usage: "Usage: auditlake role create NAME", Run: runRoleChange("role create", "created", (*access.Registry).CreateRole),
			Examples: "  auditlake role create finops"},
		{Name: "role delete", Summary: "delete a role and its grants", Usage: "Usage: auditlake role delete NAME", Run: runRoleChange("role delete", "deleted, with its grants", (*access.Registry).DeleteRole),
			Examples: "  auditlake role delete finops"},
		{Name: "role add-member", Summary: "add a user to a role", Usage: "Usage: auditlake role add-member ROLE USER", Run: runRoleMember(true),
			Examples: "  auditlake role add-member finops bob"},
		{Name: "role remove-member", Summary: "remove a user from a role", Usage: "Usage: auditlake role remove-member ROLE USER", Run: runRoleMember(false),
			Examples: "  auditlake role remove-member finops bob"},
		{Name: "role list", Summary: "list roles and their members", Usage: "Usage: auditlake role list [--output table|json]", Run: runRoleList,
			Examples: "  auditlake role list"},
		{Name: "grant select", Summary: "let a user or role read a store or cost table (columns, rows)", Usage: grantSelectUsage, Run: runGrant("select"),
			Examples: "  auditlake grant select --on store:prod-trail --to role:finops --columns eventtime,eventname,awsregion --row-filter \"eventsource = 'ec2.amazonaws.com'\"\n  auditlake grant select --on table:cur.cur_2026 --to role:finops\n  auditlake grant select --on all --to user:auditor"},
		{Name: "grant manage", Summary: "let a user or role create stores and manage users and grants", Usage: "Usage: auditlake grant manage --to user:NAME|role:NAME", Run: runGrant("manage"),
			Examples: "  auditlake grant manage --to user:alice"},
		{Name: "grant put", Summary: "let a user or role send events into a channel (PutAuditEvents)", Usage: "Usage: auditlake grant put --on channel:NAME|ARN|ID --to user:NAME|role:NAME", Run: runGrant("put"),
			Examples: "  auditlake grant put --on channel:my-app --to user:ci-pipeline"},
		{Name: "revoke", Summary: "remove grants", Usage: "Usage: auditlake revoke [select|manage] (--id GRANT | --on RESOURCE --from PRINCIPAL)", Run: runRevoke,
			Examples: "  auditlake revoke select --on store:prod-trail --from role:finops\n  auditlake revoke --id g-0123456789ab"},
		{Name: "grants", Summary: "what each principal may read, as a table", Usage: "Usage: auditlake grants [--principal user:NAME|role:NAME] [--output table|json]", Run: runGrants,
			Examples: "  auditlake grants\n  auditlake grants --principal user:bob"},
		{Name: "ingest lake-export", Summary: "ingest CloudTrail Lake query results delivered to S3 (eventjson CSV), verifying their sign file", Usage: ingestLakeExportUsage, Examples: ingestLakeExportExamples, Run: runIngestLakeExport},
		{Name: "verify-query-results", Summary: "verify delivered query results (Lake's or auditlake's): sign file, signature, file hashes", Usage: verifyQueryResultsUsage, Examples: verifyQueryResultsExamples, Run: runVerifyQueryResults},
		{Name: "delivery-key", Summary: "the key auditlake signs query result deliveries with: fingerprint, --public PEM", Usage: deliveryKeyUsage, Examples: deliveryKeyExamples, Run: runDeliveryKey},
		{Name: "source add", Summary: "declare a source that collect and serve keep collected (S3 prefix, SQS queue)", Usage: sourceAddUsage, Examples: sourceAddExamples, Run: runSourceAdd},
		{Name: "source list", Summary: "list sources: type, target, state, last run, last file, events, lag, last error", Usage: "Usage: auditlake source list [--format table|json]", Examples: "  auditlake source list --format json", Run: runSourceList},
		{Name: "source show", Summary: "show one source's state, counters and recent problems", Usage: "Usage: auditlake source show [--format text|json] NAME", Examples: "  auditlake source show org-trail", Run: runSourceShow},
		{Name: "source pause", Summary: "stop collecting a source (it keeps its position)", Usage: "Usage: auditlake source pause NAME", Examples: "  auditlake source pause org-trail", Run: runSourceChange("pause")},
		{Name: "source resume", Summary: "collect a paused source again", Usage: "Usage: auditlake source resume NAME", Examples: "  auditlake source resume org-trail", Run: runSourceChange("resume")},
		{Name: "source remove", Summary: "forget a source and its position (its events stay)", Usage: "Usage: auditlake source remove NAME", Examples: "  auditlake source remove org-trail", Run: runSourceChange("remove")},
		{Name: "collect", Summary: "run every source until stopped (--once: one pass, then exit)", Usage: collectUsage, Examples: "  auditlake collect\n  auditlake collect --once", Run: runCollect},
		{Name: "ingest events", Summary: "ingest external audit events (PutAuditEvents bodies, JSON Lines) from files", Usage: ingestEventsUsage, Examples: ingestEventsExamples, Run: runIngestEvents},
		{Name: "rule add", Summary: "add detection rules: Sigma files, a built-in, or SQL over {events}", Usage: ruleAddUsage, Examples: ruleAddExamples, Run: runRuleAdd},
		{Name: "rule list", Summary: "list detection rules", Usage: "Usage: auditlake rule list [--output table|json]", Examples: "  auditlake rule list", Run: runRuleList},
		{Name: "rule show", Summary: "show a rule: its source and the SQL it runs", Usage: "Usage: auditlake rule show [--output text|json] ID|TITLE", Examples: "  auditlake rule show 4db60cc0-36fb-42b7-9b58-a5b53019fb74", Run: runRuleShow},
		{Name: "rule disable", Summary: "disable a rule (hunt --rules all and alerts skip it)", Usage: "Usage: auditlake rule disable ID|TITLE", Examples: "  auditlake rule disable root-use", Run: runRuleDisable},
		{Name: "rule enable", Summary: "enable a rule", Usage: "Usage: auditlake rule enable ID|TITLE", Examples: "  auditlake rule enable root-use", Run: runRuleEnable},
		{Name: "rule remove", Summary: "remove a rule", Usage: "Usage: auditlake rule remove ID|TITLE", Examples: "  auditlake rule remove root-use", Run: runRuleRemove},
		{Name: "rule coverage", Summary: "every rule with its number of matches in a store", Usage: ruleCoverageUsage, Examples: "  auditlake rule coverage --eds prod-trail", Run: runRuleCoverage},
		{Name: "alert-target add", Summary: "send new alerts to a webhook (HMAC-signed JSON POST), Slack or mail", Usage: alertTargetAddUsage, Examples: "  auditlake alert-target add ops --webhook https://hooks.example/alerts --secret S3cr3t-at-least-16\n  auditlake alert-target add chat --slack-webhook https://hooks.slack.com/services/T0/B0/XXXX\n  SMTP_PASSWORD=… auditlake alert-target add mail --smtp smtp.example:587 --from auditlake@example.com --to secops@example.com --smtp-user auditlake --smtp-password-env SMTP_PASSWORD", Run: runAlertTargetAdd},
		{Name: "alert-target list", Summary: "list alert targets with their health: last success, last error, failures, queued", Usage: "Usage: auditlake alert-target list [--format table|json]", Examples: "  auditlake alert-target list", Run: runAlertTargetList},
		{Name: "alert-target remove", Summary: "remove an alert target (its queued deliveries are dropped)", Usage: "Usage: auditlake alert-target remove NAME", Examples: "  auditlake alert-target remove chat", Run: runAlertTargetRemove},
		{Name: "alert ack", Summary: "acknowledge an alert (open → acknowledged)", Usage: "Usage: auditlake alert ack ID", Examples: "  auditlake alert ack 0f1e2d3c-…", Run: runAlertAck},
		{Name: "alert close", Summary: "close an alert", Usage: "Usage: auditlake alert close ID", Examples: "  auditlake alert close 0f1e2d3c-…", Run: runAlertClose},
		{Name: "rule group", Summary: "set how a rule's alerts are grouped: key and window", Usage: ruleGroupUsage, Examples: "  auditlake rule group root-use --by account --window 1d", Run: runRuleGroup},
		{Name: "alerts", Summary: "the alerts enabled rules raised as events were committed", Usage: alertsUsage, Examples: "  auditlake alerts --since 1d\n  auditlake alerts --rule root-use --format json", Run: runAlerts},
		{Name: "hunt", Summary: "run detection rules over a time range of a store and print the matches", Usage: huntUsage, Examples: huntExamples, Run: runHunt},
	}
}
