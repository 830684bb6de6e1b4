-- One row per launched instance. {{.Facts}} holds the store's EC2 lifecycle facts (package
-- lifecycle: launches, ends, template changes; a temporary copy), {{.Cost}} a cost subquery
-- (instance_id, unblended_cost, effective_cost) aggregated per instance ONCE, so that no other
-- event naming the instance can repeat its cost. Parameters: $1 from, $2 to (TIMESTAMP or
-- NULL), $3 comma-separated account ids or '', $4 the time of the store's last event.
WITH first_launch AS (
    SELECT * FROM {{.Facts}}
    WHERE kind = 'launch' AND instance_id IS NOT NULL
      AND ($1::TIMESTAMP IS NULL OR eventtime >= $1::TIMESTAMP)
      AND ($2::TIMESTAMP IS NULL OR eventtime < $2::TIMESTAMP)
      AND ($3 = '' OR list_contains(string_split($3, ','), account_id))
    QUALIFY row_number() OVER (PARTITION BY instance_id ORDER BY src, eventtime, eventid) = 1
),
first_end AS (
    SELECT instance_id, min(eventtime) AS terminated_at, arg_min(reason, eventtime) AS end_reason
    FROM {{.Facts}} WHERE kind = 'end' AND instance_id IS NOT NULL GROUP BY instance_id
),
cost AS ({{.Cost}})
SELECT l.instance_id, l.account_id, l.awsregion, l.eventtime, l.eventid, l.principal_arn, l.issuer_arn, l.source_identity,
       l.invoked_by, l.useragent, l.console, l.client_token, l.lt_id, l.lt_name, l.lt_version, l.tags, l.lifecycle,
       e.terminated_at, e.end_reason, coalesce(c.unblended_cost, 0), coalesce(c.effective_cost, 0),
       $4::TIMESTAMP AS data_end
FROM first_launch l
LEFT JOIN first_end e ON e.instance_id = l.instance_id AND e.terminated_at >= l.eventtime
LEFT JOIN cost c ON c.instance_id = l.instance_id
ORDER BY l.eventtime, l.instance_id
