-- id: root-console-login
-- title: Root user signed in to the console
-- severity: high
-- attack: T1078.004
-- description: The root user of an account signed in to the AWS console successfully.
--   Day-to-day work should never need root; every root sign-in deserves a look, with or
--   without MFA (root-console-login-without-mfa flags the worse case as well).
-- references:
--   - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html
--   - https://docs.aws.amazon.com/IAM/latest/UserGuide/root-user-tasks.html
-- false_positives:
--   - The few tasks that need root (closing the account, changing the support plan,
--     restoring an administrator's access), done by the account owner.
SELECT
  actor,
  account_id,
  [source_ip] AS source_ips,
  [user_agent] AS user_agents,
  event_time AS first_seen,
  event_time AS last_seen,
  1 AS count,
  [event_id] AS event_ids,
  'root signed in to the console of account ' || coalesce(account_id, '(unknown)')
    || CASE WHEN mfa_used = 'Yes' THEN ' with MFA' || coalesce(' (device ' || mfa_identifier || ')', '')
            ELSE ' without MFA' END
    || coalesce(' from ' || source_ip, '') AS details
FROM signin_events
WHERE event_name = 'ConsoleLogin'
  AND event_source = 'signin.amazonaws.com'
  AND outcome = 'Success'
  AND (lower(user_type) = 'root' OR (user_type IS NULL AND user_arn LIKE 'arn:%:iam::%:root'))
