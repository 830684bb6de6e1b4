-- Every event that names instance $1, and the definition events of its launch template $2,
-- oldest first. The eventname filter keeps the scan to EC2 lifecycle and tag events.
SELECT eventtime, eventname, eventsource, coalesce(useridentity.arn, useridentity.invokedby, '') AS actor,
       errorcode, requestparameters, responseelements, serviceeventdetails, eventid
FROM {{.Store}}
WHERE eventsource = 'ec2.amazonaws.com'
  AND ((eventname IN ('RunInstances', 'CreateFleet', 'StopInstances', 'StartInstances', 'RebootInstances', 'TerminateInstances',
                      'BidEvictedEvent', 'CreateTags', 'DeleteTags', 'ModifyInstanceAttribute', 'MonitorInstances')
        AND contains(eventjson, $1))
    OR ($2 <> '' AND eventname IN ('CreateLaunchTemplate', 'CreateLaunchTemplateVersion', 'ModifyLaunchTemplate', 'DeleteLaunchTemplate')
        AND contains(eventjson, $2)))
ORDER BY eventtime, eventid
