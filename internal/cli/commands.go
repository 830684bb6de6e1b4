package cli

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
			Usage: "Usage: auditlake eds show [--output text|json] NAME|ID", Examples: "  auditlake eds show prod-trail"},
		{Name: "eds update", Summary: "change retention, name or termination protection", Run: runEDSUpdate,
			Usage:    "Usage: auditlake eds update [--retention-days N [--yes]] [--termination-protection on|off] [--name NEW] NAME|ID",
			Examples: "  auditlake eds update prod-trail --retention-days 3653\n  auditlake eds update prod-trail --termination-protection off"},
		{Name: "eds delete", Summary: "delete an event data store and its files", Run: runEDSDelete,
			Usage: "Usage: auditlake eds delete NAME|ID\n\nRefuses while termination protection is on.", Examples: "  auditlake eds delete old-trail"},
		{Name: "eds compact", Summary: "merge each date partition's files into one sorted file", Run: runEDSCompact,
			Usage:    "Usage: auditlake eds compact NAME|ID\n\nIngest merges a partition when it has more than 32 files; compact merges every partition with more\nthan one file into one file sorted by eventtime, in one atomic commit. Readers are never disturbed.",
			Examples: "  auditlake eds compact prod-trail"},
		{Name: "eds purge", Summary: "delete events older than each store's retention", Run: runEDSPurge,
			Usage:    "Usage: auditlake eds purge [NAME|ID...]\n\nDeletes, in one atomic commit per store, the events older than the store's retention\n(measured on eventtime). With no names, purges every store. serve also purges at start and daily.",
			Examples: "  auditlake eds purge\n  auditlake eds purge prod-trail"},
		{Name: "ingest cloudtrail", Summary: "ingest CloudTrail files from local paths or S3", Run: runIngestCloudTrail,
			Usage: "Usage: auditlake ingest cloudtrail --eds NAME|ID [--from T] [--to T] [--profile P] [--region R] [--endpoint-url URL] SOURCE...\n\n" +
				"A SOURCE is a file, a directory (read recursively) or s3://bucket/prefix. Every shape CloudTrail data comes in is read:\n" +
				"{\"Records\":[...]} delivery files, JSON arrays, JSON Lines, 'aws cloudtrail lookup-events' output, EventBridge events;\n" +
				"gzip or plain. CloudTrail-Digest files are skipped. Ingest is incremental (unchanged files are skipped) and\n" +
				"idempotent (events are deduplicated on eventid + recipientaccountid). Exit code 3 means some input was bad:\n" +
				"the problems are listed and the good events were committed.",
			Examples: "  auditlake ingest cloudtrail --eds prod-trail ./AWSLogs\n  auditlake ingest cloudtrail --eds prod-trail s3://my-trail-bucket/AWSLogs/o-abc123/ --from 2026-01-01\n  auditlake ingest cloudtrail --eds prod-trail --endpoint-url http://127.0.0.1:9000 s3://bucket/AWSLogs/"},
		{Name: "query", Summary: "run SQL (Trino/Athena/CloudTrail Lake dialect) over the stores", Run: runQuery,
			Usage: "Usage: auditlake query [--format table|csv|json] [--csv-safe] [--timeout D] [--max-rows N] SQL | -f FILE | < FILE\n\n" +
				"Every event data store is the table \"aws:cloudtrail\".\"<store id>\" (also by name; a bare store id after FROM works\n" +
				"as in AWS's samples). Only SELECT is allowed; files outside the registered tables cannot be read.\n" +
				"CSV holds the exact values by default. For a file a spreadsheet will open, add --csv-safe: text cells that start\n" +
				"with = + - @ (or tab, CR) get a leading ' so they are not run as formulas (event fields are attacker-controlled).",
			Examples: "  auditlake query \"SELECT eventname, count(*) FROM \\\"aws:cloudtrail\\\".\\\"<store id>\\\" GROUP BY 1 ORDER BY 2 DESC\"\n  auditlake query --format csv -f seed-query-1.sql\n  auditlake query --format csv --csv-safe -f seed-query-1.sql > for-excel.csv"},
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
		{Name: "channel create", Summary: "create a channel that feeds external audit events to an activity store", Usage: channelCreateUsage, Examples: channelCreateExamples, Run: runChannelCreate},
		{Name: "channel list", Summary: "list channels", Usage: "Usage: auditlake channel list [--output table|json]", Examples: "  auditlake channel list --output json", Run: runChannelList},
		{Name: "channel delete", Summary: "delete a channel (its events stay in the store)", Usage: "Usage: auditlake channel delete NAME|ARN|ID", Examples: "  auditlake channel delete my-app", Run: runChannelDelete},
		{Name: "token create", Summary: "create an API token for the audit-event endpoints and print it once", Usage: tokenCreateUsage, Examples: "  auditlake token create --name ci-pipeline", Run: runTokenCreate},
		{Name: "token list", Summary: "list API tokens (names only)", Usage: "Usage: auditlake token list", Examples: "  auditlake token list", Run: runTokenList},
		{Name: "token delete", Summary: "revoke an API token", Usage: "Usage: auditlake token delete NAME", Examples: "  auditlake token delete ci-pipeline", Run: runTokenDelete},
		{Name: "ingest events", Summary: "ingest external audit events (PutAuditEvents bodies, JSON Lines) from files", Usage: ingestEventsUsage, Examples: ingestEventsExamples, Run: runIngestEvents},
	}
}
