-- Launch template history: creation (name → id, version 1, default 1), new versions and default
-- changes, oldest first. Used to resolve a template named by launchTemplateName and the
-- $Latest / $Default versions as they stood at launch time.
SELECT eventtime, eventname,
       coalesce(json_extract_string(responseelements['CreateLaunchTemplateResponse'], '$.launchTemplate.launchTemplateId'),
                json_extract_string(responseelements['CreateLaunchTemplateVersionResponse'], '$.launchTemplateVersion.launchTemplateId'),
                json_extract_string(responseelements['ModifyLaunchTemplateResponse'], '$.launchTemplate.launchTemplateId'),
                json_extract_string(responseelements['launchTemplate'], '$.launchTemplateId')) AS id,
       coalesce(json_extract_string(responseelements['CreateLaunchTemplateResponse'], '$.launchTemplate.launchTemplateName'),
                json_extract_string(responseelements['CreateLaunchTemplateVersionResponse'], '$.launchTemplateVersion.launchTemplateName'),
                json_extract_string(responseelements['ModifyLaunchTemplateResponse'], '$.launchTemplate.launchTemplateName'),
                json_extract_string(responseelements['launchTemplate'], '$.launchTemplateName')) AS name,
       coalesce(json_extract_string(responseelements['CreateLaunchTemplateResponse'], '$.launchTemplate.latestVersionNumber'),
                json_extract_string(responseelements['CreateLaunchTemplateVersionResponse'], '$.launchTemplateVersion.versionNumber'),
                json_extract_string(responseelements['launchTemplate'], '$.latestVersionNumber')) AS version,
       coalesce(json_extract_string(responseelements['CreateLaunchTemplateResponse'], '$.launchTemplate.defaultVersionNumber'),
                json_extract_string(responseelements['ModifyLaunchTemplateResponse'], '$.launchTemplate.defaultVersionNumber'),
                json_extract_string(requestparameters['ModifyLaunchTemplateRequest'], '$.SetDefaultVersion'),
                CASE WHEN json_extract_string(responseelements['CreateLaunchTemplateVersionResponse'], '$.launchTemplateVersion.defaultVersion') = 'true'
                     THEN json_extract_string(responseelements['CreateLaunchTemplateVersionResponse'], '$.launchTemplateVersion.versionNumber') END) AS default_version,
       eventid, useridentity.arn AS actor
FROM {{.Store}}
WHERE eventname IN ('CreateLaunchTemplate', 'CreateLaunchTemplateVersion', 'ModifyLaunchTemplate')
  AND errorcode IS NULL AND responseelements IS NOT NULL
ORDER BY eventtime, eventid
