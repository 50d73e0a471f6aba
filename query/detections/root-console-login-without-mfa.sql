-- id: root-console-login-without-mfa
-- title: Root user signed in to the console without MFA
-- severity: critical
-- attack: T1078.004
-- description: The root user signed in to the AWS console successfully with MFAUsed not
--   Yes: the account's most powerful identity was protected by a password alone, or its
--   MFA had just been removed (see mfa-removed-then-login).
-- references:
--   - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html
--   - https://docs.aws.amazon.com/IAM/latest/UserGuide/enable-virt-mfa-for-root.html
-- false_positives:
--   - Accounts whose root user has no MFA yet (new accounts being set up); that is a
--     finding in itself.
SELECT
  actor,
  account_id,
  [source_ip] AS source_ips,
  [user_agent] AS user_agents,
  event_time AS first_seen,
  event_time AS last_seen,
  1 AS count,
  [event_id] AS event_ids,
  'root signed in to the console of account ' || coalesce(account_id, '(unknown)') || ' without MFA'
    || coalesce(' from ' || source_ip, '') AS details
FROM signin_events
WHERE event_name = 'ConsoleLogin'
  AND event_source = 'signin.amazonaws.com'
  AND outcome = 'Success'
  AND mfa_used IS DISTINCT FROM 'Yes'
  AND (lower(user_type) = 'root' OR (user_type IS NULL AND user_arn LIKE 'arn:%:iam::%:root'))
