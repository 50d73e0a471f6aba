-- id: console-login-without-mfa
-- title: IAM user signed in to the console without MFA
-- severity: medium
-- attack: T1078.004
-- description: An IAM user signed in to the AWS console successfully with MFAUsed not
--   Yes (No, or absent). One finding per user, with every such sign-in, its source IPs
--   and first and last time, so a user who always signs in without MFA is one line and
--   not hundreds.
--
--   Only IAM users are considered. Federated sign-ins report MFAUsed No by design,
--   because MFA happened at the identity provider: SAML (additionalEventData
--   SamlProviderArn), IAM Identity Center (AWSReservedSSO_ roles, IdentityCenterUser),
--   AssumedRole and FederatedUser sessions are left out. They are the false positives
--   users complain about most with the CIS "console sign-in without MFA" metric filter.
--   The identity type decides: SAML and Identity Center console sign-ins are always
--   AssumedRole, never IAMUser. Exports that dropped userIdentity.type count an IAM
--   user ARN, unless the event names a SAML provider. The root user has its own rule,
--   root-console-login-without-mfa.
-- references:
--   - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html
--   - https://www.trendmicro.com/cloudoneconformity/knowledge-base/aws/CloudWatchLogs/console-sign-in-without-mfa.html
--   - https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa.html
-- false_positives:
--   - IAM users that are meant to have no MFA (break-glass or legacy accounts); they are
--     still worth knowing about.
WITH logins AS (
  SELECT account_id, actor, source_ip, user_agent, event_time, event_id, user_arn, session_issuer_arn
  FROM signin_events
  WHERE event_name = 'ConsoleLogin'
    AND event_source = 'signin.amazonaws.com'
    AND outcome = 'Success'
    AND mfa_used IS DISTINCT FROM 'Yes'
    AND lower(user_type) = 'iamuser'
  UNION ALL
  -- Exports that dropped userIdentity.type: an IAM user's ARN, and no SAML
  -- provider. (Typed IAMUser sign-ins are never SAML: those are AssumedRole.)
  -- The SAML provider is in the event's JSON: read for these sign-ins only,
  -- by their place (most stores have none, and then the events are not read).
  SELECT s.account_id, s.actor, s.source_ip, s.user_agent, s.event_time, s.event_id, s.user_arn, s.session_issuer_arn
  FROM signin_events s
  JOIN events e ON e.file_id = s.file_id AND e.record_index = s.record_index
  WHERE s.event_name = 'ConsoleLogin'
    AND s.event_source = 'signin.amazonaws.com'
    AND s.outcome = 'Success'
    AND s.mfa_used IS DISTINCT FROM 'Yes'
    AND s.user_type IS NULL
    AND s.user_arn LIKE 'arn:%:iam::%:user/%'
    AND (e.additional_event_data ->> 'SamlProviderArn') IS NULL
)
SELECT
  min(actor) AS actor,
  account_id,
  list(DISTINCT source_ip) AS source_ips,
  list(DISTINCT user_agent) AS user_agents,
  min(event_time) AS first_seen,
  max(event_time) AS last_seen,
  count(*) AS count,
  arg_min(event_id, {'t': event_time, 'id': event_id}, 1000) AS event_ids,
  coalesce(min(actor), 'an unknown user') || ' signed in to the console without MFA ' || count(*)
    || ' time(s) from ' || count(DISTINCT source_ip) || ' IP address(es)' AS details
FROM logins
WHERE position('AWSReservedSSO_' IN coalesce(user_arn, '') || ' ' || coalesce(session_issuer_arn, '') || ' ' || coalesce(actor, '')) = 0
GROUP BY account_id, lower(actor)
