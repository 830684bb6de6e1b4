-- One row per launched instance. {{.Store}} holds the store's EC2 lifecycle events (a temporary
-- copy), {{.AllEvents}} the whole event data store, {{.Cost}} a cost subquery
-- (instance_id, unblended_cost, effective_cost) aggregated per instance ONCE, so that no other
-- event naming the instance can repeat its cost. Parameters: $1 from, $2 to (TIMESTAMP or
-- NULL), $3 comma-separated account ids or ''.
WITH ev AS (
    SELECT eventtime, eventid, eventname, awsregion, recipientaccountid, useridentity, useragent,
           sessioncredentialfromconsole, requestparameters, responseelements
    FROM {{.Store}}
    WHERE eventname IN ('RunInstances', 'CreateFleet')
      AND errorcode IS NULL AND responseelements IS NOT NULL
      AND ($1::TIMESTAMP IS NULL OR eventtime >= $1::TIMESTAMP)
      AND ($2::TIMESTAMP IS NULL OR eventtime < $2::TIMESTAMP)
      AND ($3 = '' OR list_contains(string_split($3, ','), coalesce(recipientaccountid, useridentity.accountid)))
),
run AS (
    SELECT ev.*, unnest(CAST(json_extract(responseelements['instancesSet'], '$.items') AS JSON[])) AS item
    FROM ev WHERE eventname = 'RunInstances'
),
fleet AS (
    SELECT ev.*, responseelements['CreateFleetResponse'] AS resp, requestparameters['CreateFleetRequest'] AS req,
           unnest(CASE json_type(responseelements['CreateFleetResponse'], '$.fleetInstanceSet.item')
                      WHEN 'ARRAY' THEN CAST(json_extract(responseelements['CreateFleetResponse'], '$.fleetInstanceSet.item') AS JSON[])
                      WHEN 'OBJECT' THEN [json_extract(responseelements['CreateFleetResponse'], '$.fleetInstanceSet.item')]
                      ELSE []::JSON[] END) AS fi
    FROM ev WHERE eventname = 'CreateFleet'
),
fleet_inst AS (
    SELECT fleet.*, unnest(CASE json_type(fi, '$.instanceIds.item')
                               WHEN 'ARRAY' THEN CAST(json_extract(fi, '$.instanceIds.item') AS VARCHAR[])
                               WHEN 'VARCHAR' THEN [json_extract_string(fi, '$.instanceIds.item')]
                               ELSE []::VARCHAR[] END) AS iid
    FROM fleet
),
launch AS (
    SELECT 0 AS src, json_extract_string(item, '$.instanceId') AS instance_id, eventtime, eventid, awsregion,
           coalesce(recipientaccountid, useridentity.accountid) AS account_id, useridentity.arn AS principal_arn,
           useridentity.sessioncontext.sessionissuer.arn AS issuer_arn, useridentity.sessioncontext.sourceidentity AS source_identity,
           useridentity.invokedby AS invoked_by, useragent, sessioncredentialfromconsole AS console,
           requestparameters['clientToken'] AS client_token,
           json_extract_string(requestparameters['launchTemplate'], '$.launchTemplateId') AS req_lt_id,
           json_extract_string(requestparameters['launchTemplate'], '$.launchTemplateName') AS req_lt_name,
           json_extract_string(requestparameters['launchTemplate'], '$.version') AS req_lt_version,
           CAST(json_extract(item, '$.tagSet.items') AS VARCHAR) AS tags,
           json_extract_string(item, '$.instanceLifecycle') AS lifecycle
    FROM run
    UNION ALL
    SELECT 1, iid, eventtime, eventid, awsregion, coalesce(recipientaccountid, useridentity.accountid), useridentity.arn,
           useridentity.sessioncontext.sessionissuer.arn, useridentity.sessioncontext.sourceidentity,
           useridentity.invokedby, useragent, sessioncredentialfromconsole,
           'fleet:' || coalesce(json_extract_string(resp, '$.fleetId'), ''),
           coalesce(json_extract_string(fi, '$.launchTemplateAndOverrides.launchTemplateSpecification.launchTemplateId'),
                    json_extract_string(req, '$.LaunchTemplateConfigs.LaunchTemplateSpecification.LaunchTemplateId'),
                    json_extract_string(req, '$.LaunchTemplateConfigs[0].LaunchTemplateSpecification.LaunchTemplateId')),
           coalesce(json_extract_string(fi, '$.launchTemplateAndOverrides.launchTemplateSpecification.launchTemplateName'),
                    json_extract_string(req, '$.LaunchTemplateConfigs.LaunchTemplateSpecification.LaunchTemplateName'),
                    json_extract_string(req, '$.LaunchTemplateConfigs[0].LaunchTemplateSpecification.LaunchTemplateName')),
           coalesce(json_extract_string(fi, '$.launchTemplateAndOverrides.launchTemplateSpecification.version'),
                    json_extract_string(req, '$.LaunchTemplateConfigs.LaunchTemplateSpecification.Version'),
                    json_extract_string(req, '$.LaunchTemplateConfigs[0].LaunchTemplateSpecification.Version')),
           NULL, json_extract_string(fi, '$.lifecycle')
    FROM fleet_inst
),
first_launch AS (
    SELECT * FROM launch WHERE instance_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY instance_id ORDER BY src, eventtime, eventid) = 1
),
ending AS (
    SELECT json_extract_string(it, '$.instanceId') AS instance_id, eventtime,
           CASE WHEN useridentity.invokedby = 'autoscaling.amazonaws.com' OR useragent = 'autoscaling.amazonaws.com'
                     OR useridentity.sessioncontext.sessionissuer.username = 'AWSServiceRoleForAutoScaling'
                THEN 'Auto Scaling scale-in'
                ELSE 'TerminateInstances by ' || coalesce(useridentity.arn, useridentity.invokedby, 'unknown') END AS reason
    FROM (SELECT *, unnest(CAST(json_extract(responseelements['instancesSet'], '$.items') AS JSON[])) AS it
          FROM {{.Store}}
          WHERE eventname = 'TerminateInstances' AND errorcode IS NULL AND responseelements IS NOT NULL)
    UNION ALL
    SELECT unnest(CAST(serviceeventdetails['instanceIdSet'] AS VARCHAR[])), eventtime, 'Spot interruption (BidEvictedEvent)'
    FROM {{.Store}}
    WHERE eventname = 'BidEvictedEvent' AND serviceeventdetails IS NOT NULL
),
first_end AS (
    SELECT instance_id, min(eventtime) AS terminated_at, arg_min(reason, eventtime) AS end_reason
    FROM ending WHERE instance_id IS NOT NULL GROUP BY instance_id
),
cost AS ({{.Cost}})
SELECT l.instance_id, l.account_id, l.awsregion, l.eventtime, l.eventid, l.principal_arn, l.issuer_arn, l.source_identity,
       l.invoked_by, l.useragent, l.console, l.client_token, l.req_lt_id, l.req_lt_name, l.req_lt_version, l.tags, l.lifecycle,
       e.terminated_at, e.end_reason, coalesce(c.unblended_cost, 0), coalesce(c.effective_cost, 0),
       (SELECT max(eventtime) FROM {{.AllEvents}}) AS data_end
FROM first_launch l
LEFT JOIN first_end e ON e.instance_id = l.instance_id AND e.terminated_at >= l.eventtime
LEFT JOIN cost c ON c.instance_id = l.instance_id
ORDER BY l.eventtime, l.instance_id
