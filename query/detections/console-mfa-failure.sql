-- id: console-mfa-failure
-- title: Console sign-in failed at the MFA step
-- severity: medium
-- attack: T1621, T1078.004
-- description: An IAM user or the root user failed the second factor of an AWS console
--   sign-in: a ConsoleLogin event from signin.amazonaws.com with result Failure and
--   MFAUsed Yes (written Yes, YES or true by different exports; ingest normalises it).
--   MFA is only asked for once the password is accepted, so whoever made the attempt
--   knows the password. One finding per attempt; mfa-failure-burst groups repeats and
--   signin-after-mfa-failure shows when a sign-in followed.
--
--   Compared with the CloudWatch filter and Splunk's search it matches any spelling of
--   MFAUsed, requires the sign-in event source, and does not depend on errorMessage.
-- references:
--   - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html
--   - https://attack.mitre.org/techniques/T1621/
-- false_positives:
--   - A user mistyping a code or using an expired one. A single failure followed by a
--     success from the same IP a minute later is almost always this.
--   - A user whose device clock drifted (resynchronise the device).
SELECT
  actor,
  account_id,
  [source_ip] AS source_ips,
  [user_agent] AS user_agents,
  event_time AS first_seen,
  event_time AS last_seen,
  1 AS count,
  [event_id] AS event_ids,
  coalesce(actor, 'an unknown user') || ' passed the password but failed MFA at console sign-in'
    || coalesce(' (device ' || mfa_identifier || ')', '') AS details
FROM signin_events
WHERE event_name = 'ConsoleLogin'
  AND event_source = 'signin.amazonaws.com'
  AND outcome = 'Failure'
  AND mfa_used = 'Yes'
