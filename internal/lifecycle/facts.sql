-- The EC2 lifecycle facts of the CloudTrail events of the relation given (with the Lake
-- schema): one row per launched instance of each successful RunInstances (every item) and
-- CreateFleet (every instance of every fleet item), one row per instance ended by a successful
-- TerminateInstances or a Spot interruption (BidEvictedEvent), and one row per successful launch
-- template change. Dry runs and failed calls have an errorcode and are not facts. Every column
-- of the Lake row the reports need is extracted here, once per event, so that reading the facts
-- of a store costs a scan of a few plain columns instead of the JSON of every EC2 event.
-- No event can make it fail: a map value that is not JSON (the Lake keeps a string value
-- unquoted) or that has an unexpected shape gives NULL through try(), and an item list that is
-- one object rather than an array counts as that one item.
WITH ev AS MATERIALIZED (
    SELECT eventtime, eventid, eventname, awsregion, recipientaccountid, useridentity, useragent,
           sessioncredentialfromconsole, requestparameters, responseelements, serviceeventdetails
    FROM {{.Events}}
    WHERE eventsource = 'ec2.amazonaws.com'
      AND eventname IN ('RunInstances', 'CreateFleet', 'TerminateInstances', 'BidEvictedEvent',
                        'CreateLaunchTemplate', 'CreateLaunchTemplateVersion', 'ModifyLaunchTemplate')
      AND errorcode IS NULL
),
run AS (
    SELECT ev.*, unnest(CASE try(json_type(responseelements['instancesSet'], '$.items'))
                         WHEN 'ARRAY' THEN CAST(json_extract(responseelements['instancesSet'], '$.items') AS JSON[])
                         WHEN 'OBJECT' THEN [json_extract(responseelements['instancesSet'], '$.items')]
                         ELSE []::JSON[] END) AS item
    FROM ev WHERE eventname = 'RunInstances' AND responseelements IS NOT NULL
),
fleet AS (
    SELECT ev.*, responseelements['CreateFleetResponse'] AS resp, requestparameters['CreateFleetRequest'] AS req,
           unnest(CASE try(json_type(responseelements['CreateFleetResponse'], '$.fleetInstanceSet.item'))
                      WHEN 'ARRAY' THEN CAST(json_extract(responseelements['CreateFleetResponse'], '$.fleetInstanceSet.item') AS JSON[])
                      WHEN 'OBJECT' THEN [json_extract(responseelements['CreateFleetResponse'], '$.fleetInstanceSet.item')]
                      ELSE []::JSON[] END) AS fi
    FROM ev WHERE eventname = 'CreateFleet' AND responseelements IS NOT NULL
),
fleet_inst AS (
    SELECT fleet.*, unnest(CASE try(json_type(fi, '$.instanceIds.item'))
                               WHEN 'ARRAY' THEN [json_extract_string(x, '$') FOR x IN CAST(json_extract(fi, '$.instanceIds.item') AS JSON[])
                                                 IF json_type(x) = 'VARCHAR']
                               WHEN 'VARCHAR' THEN [json_extract_string(fi, '$.instanceIds.item')]
                               ELSE []::VARCHAR[] END) AS iid
    FROM fleet
),
term AS (
    SELECT ev.*, unnest(CASE try(json_type(responseelements['instancesSet'], '$.items'))
                         WHEN 'ARRAY' THEN CAST(json_extract(responseelements['instancesSet'], '$.items') AS JSON[])
                         WHEN 'OBJECT' THEN [json_extract(responseelements['instancesSet'], '$.items')]
                         ELSE []::JSON[] END) AS it
    FROM ev WHERE eventname = 'TerminateInstances' AND responseelements IS NOT NULL
)
SELECT 'launch' AS kind, 0 AS src, json_extract_string(item, '$.instanceId') AS instance_id, eventtime, eventid, eventname, awsregion,
       coalesce(recipientaccountid, useridentity.accountid) AS account_id, useridentity.arn AS principal_arn,
       useridentity.sessioncontext.sessionissuer.arn AS issuer_arn, useridentity.sessioncontext.sourceidentity AS source_identity,
       useridentity.invokedby AS invoked_by, useragent, sessioncredentialfromconsole AS console,
       requestparameters['clientToken'] AS client_token,
       try(json_extract_string(requestparameters['launchTemplate'], '$.launchTemplateId')) AS lt_id,
       try(json_extract_string(requestparameters['launchTemplate'], '$.launchTemplateName')) AS lt_name,
       try(json_extract_string(requestparameters['launchTemplate'], '$.version')) AS lt_version,
       CAST(json_extract(item, '$.tagSet.items') AS VARCHAR) AS tags,
       json_extract_string(item, '$.instanceLifecycle') AS lifecycle,
       NULL::VARCHAR AS reason, NULL::VARCHAR AS default_version
FROM run
UNION ALL
SELECT 'launch', 1, iid, eventtime, eventid, eventname, awsregion, coalesce(recipientaccountid, useridentity.accountid), useridentity.arn,
       useridentity.sessioncontext.sessionissuer.arn, useridentity.sessioncontext.sourceidentity,
       useridentity.invokedby, useragent, sessioncredentialfromconsole,
       'fleet:' || coalesce(try(json_extract_string(resp, '$.fleetId')), ''),
       coalesce(json_extract_string(fi, '$.launchTemplateAndOverrides.launchTemplateSpecification.launchTemplateId'),
                try(json_extract_string(req, '$.LaunchTemplateConfigs.LaunchTemplateSpecification.LaunchTemplateId')),
                try(json_extract_string(req, '$.LaunchTemplateConfigs[0].LaunchTemplateSpecification.LaunchTemplateId'))),
       coalesce(json_extract_string(fi, '$.launchTemplateAndOverrides.launchTemplateSpecification.launchTemplateName'),
                try(json_extract_string(req, '$.LaunchTemplateConfigs.LaunchTemplateSpecification.LaunchTemplateName')),
                try(json_extract_string(req, '$.LaunchTemplateConfigs[0].LaunchTemplateSpecification.LaunchTemplateName'))),
       coalesce(json_extract_string(fi, '$.launchTemplateAndOverrides.launchTemplateSpecification.version'),
                try(json_extract_string(req, '$.LaunchTemplateConfigs.LaunchTemplateSpecification.Version')),
                try(json_extract_string(req, '$.LaunchTemplateConfigs[0].LaunchTemplateSpecification.Version'))),
       NULL, json_extract_string(fi, '$.lifecycle'), NULL, NULL
FROM fleet_inst
UNION ALL
SELECT 'end', NULL, json_extract_string(it, '$.instanceId'), eventtime, eventid, eventname, awsregion,
       coalesce(recipientaccountid, useridentity.accountid), useridentity.arn, useridentity.sessioncontext.sessionissuer.arn,
       NULL, useridentity.invokedby, useragent, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       CASE WHEN useridentity.invokedby = 'autoscaling.amazonaws.com' OR useragent = 'autoscaling.amazonaws.com'
                 OR useridentity.sessioncontext.sessionissuer.username = 'AWSServiceRoleForAutoScaling'
            THEN 'Auto Scaling scale-in'
            ELSE 'TerminateInstances by ' || coalesce(useridentity.arn, useridentity.invokedby, 'unknown') END,
       NULL
FROM term
UNION ALL
SELECT 'end', NULL, unnest(coalesce(TRY_CAST(serviceeventdetails['instanceIdSet'] AS VARCHAR[]), [])), eventtime, eventid, eventname, awsregion,
       recipientaccountid, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       'Spot interruption (BidEvictedEvent)', NULL
FROM ev WHERE eventname = 'BidEvictedEvent' AND serviceeventdetails IS NOT NULL
UNION ALL
SELECT 'template', NULL, NULL, eventtime, eventid, eventname, awsregion, coalesce(recipientaccountid, useridentity.accountid),
       useridentity.arn, NULL, NULL, NULL, NULL, NULL, NULL,
       coalesce(try(json_extract_string(responseelements['CreateLaunchTemplateResponse'], '$.launchTemplate.launchTemplateId')),
                try(json_extract_string(responseelements['CreateLaunchTemplateVersionResponse'], '$.launchTemplateVersion.launchTemplateId')),
                try(json_extract_string(responseelements['ModifyLaunchTemplateResponse'], '$.launchTemplate.launchTemplateId')),
                try(json_extract_string(responseelements['launchTemplate'], '$.launchTemplateId'))),
       coalesce(try(json_extract_string(responseelements['CreateLaunchTemplateResponse'], '$.launchTemplate.launchTemplateName')),
                try(json_extract_string(responseelements['CreateLaunchTemplateVersionResponse'], '$.launchTemplateVersion.launchTemplateName')),
                try(json_extract_string(responseelements['ModifyLaunchTemplateResponse'], '$.launchTemplate.launchTemplateName')),
                try(json_extract_string(responseelements['launchTemplate'], '$.launchTemplateName'))),
       coalesce(try(json_extract_string(responseelements['CreateLaunchTemplateResponse'], '$.launchTemplate.latestVersionNumber')),
                try(json_extract_string(responseelements['CreateLaunchTemplateVersionResponse'], '$.launchTemplateVersion.versionNumber')),
                try(json_extract_string(responseelements['launchTemplate'], '$.latestVersionNumber'))),
       NULL, NULL, NULL,
       coalesce(try(json_extract_string(responseelements['CreateLaunchTemplateResponse'], '$.launchTemplate.defaultVersionNumber')),
                try(json_extract_string(responseelements['ModifyLaunchTemplateResponse'], '$.launchTemplate.defaultVersionNumber')),
                try(json_extract_string(requestparameters['ModifyLaunchTemplateRequest'], '$.SetDefaultVersion')),
                CASE WHEN try(json_extract_string(responseelements['CreateLaunchTemplateVersionResponse'], '$.launchTemplateVersion.defaultVersion')) = 'true'
                     THEN try(json_extract_string(responseelements['CreateLaunchTemplateVersionResponse'], '$.launchTemplateVersion.versionNumber')) END)
FROM ev WHERE eventname IN ('CreateLaunchTemplate', 'CreateLaunchTemplateVersion', 'ModifyLaunchTemplate') AND responseelements IS NOT NULL
