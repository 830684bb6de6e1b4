-- Launch template history from the EC2 lifecycle facts {{.Facts}}: creation (name → id,
-- version 1, default 1), new versions and default changes, oldest first. Used to resolve a
-- template named by launchTemplateName and the $Latest / $Default versions as they stood at
-- launch time.
SELECT eventtime, eventname, lt_id AS id, lt_name AS name, lt_version AS version, default_version, eventid, principal_arn AS actor
FROM {{.Facts}}
WHERE kind = 'template'
ORDER BY eventtime, eventid
