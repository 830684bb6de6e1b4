SELECT CloudTrail.Approval_STATUS,
	CostAndUsageReport.Instance_ID,
	CloudTrail.User_ARN,
	CostAndUsageReport.Unblended_COST,
	CostAndUsageReport.Description_COST,
	CostAndUsageReport.Start_DATE,
	CostAndUsageReport.End_DATE
FROM (
		SELECT line_item_resource_id as Instance_ID,
			line_item_product_code,
			line_item_line_item_description as Description_COST,
			line_item_usage_start_date as Start_DATE,
			line_item_usage_end_date as End_DATE,
			SUM(line_item_unblended_cost) AS Unblended_COST
		FROM "enter-your-cur-database"."enter-your-cur-table"
		WHERE line_item_product_code = 'AmazonEC2'
			AND line_item_line_item_type NOT IN ('Tax', 'Refund', 'Credit')
		GROUP BY line_item_resource_id,
			line_item_product_code,
			line_item_usage_start_date,
			line_item_usage_end_date,
			line_item_line_item_description
		ORDER BY Unblended_COST DESC
	) AS CostAndUsageReport
	JOIN (
		SELECT useridentity.arn as User_ARN,
			json_extract_scalar(
				element_at(
					CAST(responseelements AS map(varchar, varchar)),
					'instancesSet'
				),
				'$.items[0].instanceId'
			) as instance_id,
			Case
				WHEN (
					useragent like 'autoscaling.amazonaws.com'
					and NOT(
						json_extract_scalar(
							element_at(requestparameters, 'launchTemplate'),
							'$.launchTemplateId'
						) like 'enter-approved-launch-template-id-here'
					)
				)
				OR (
					useragent not like 'autoscaling.amazonaws.com'
					and eventname LIKE 'RunInstances'
				) Then 'Non Approved' Else 'Approved Templates'
			End as Approval_STATUS
		FROM "aws:cloudtrail"."enter-eds-id-here"
	) AS CloudTrail ON CostAndUsageReport.Instance_ID = CloudTrail.instance_Id
