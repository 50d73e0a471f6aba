-- id: idc-mfa-failure
-- title: IAM Identity Center sign-in failed at the MFA step
-- severity: medium
-- attack: T1621, T1078.004
-- description: An IAM Identity Center user failed a TOTP or WebAuthn (security key,
--   passkey) challenge: a CredentialVerification or CredentialChallenge event whose
--   serviceEventDetails result is Failure and whose CredentialType names TOTP,
--   WEBAUTHN or RESYNC_TOTP anywhere in its list (it may read "PASSWORD,TOTP").
--   The events of one sign-in share an AuthWorkflowID and make one finding. The failing
--   step often carries only the Identity Center user id: the user's name is taken from
--   any step of the same sign-in that has it, else from the user's other sign-ins.
-- references:
--   - https://docs.aws.amazon.com/singlesignon/latest/userguide/understanding-sign-in-events.html
--   - https://docs.aws.amazon.com/singlesignon/latest/userguide/username-sign-in-cloudtrail-events.html
--   - https://attack.mitre.org/techniques/T1621/
-- false_positives:
--   - A user mistyping a code, or touching the wrong security key.
WITH failures AS (
  SELECT event_time, event_id, account_id, source_ip, user_agent, actor, auth_workflow_id, credential_type,
    CASE WHEN lower(user_type) = 'identitycenteruser' THEN principal_id END AS idc_user_id
  FROM signin_events
  WHERE event_name IN ('CredentialVerification', 'CredentialChallenge')
    AND lower(credential_challenge) IN ('failure', 'failed')
    AND list_has_any(string_split(upper(replace(credential_type, ' ', '')), ','), ['TOTP', 'WEBAUTHN', 'RESYNC_TOTP'])
),
names AS (
  SELECT auth_workflow_id, principal_id, lower(user_type) = 'identitycenteruser' AS idc, user_name
  FROM signin_events
  WHERE auth_workflow_id IS NOT NULL
    AND user_name IS NOT NULL AND user_name <> 'HIDDEN_DUE_TO_SECURITY_REASONS'
),
by_workflow AS (
  SELECT auth_workflow_id, min(user_name) AS user_name FROM names
  WHERE auth_workflow_id IN (SELECT auth_workflow_id FROM failures)
  GROUP BY auth_workflow_id
),
by_user_id AS (
  SELECT principal_id, min(user_name) AS user_name FROM names
  WHERE idc AND principal_id IN (SELECT idc_user_id FROM failures)
  GROUP BY principal_id
),
named AS (
  SELECT f.*, coalesce(w.user_name, u.user_name, f.actor) AS who
  FROM failures f
  LEFT JOIN by_workflow w ON w.auth_workflow_id = f.auth_workflow_id
  LEFT JOIN by_user_id u ON u.principal_id = f.idc_user_id
)
SELECT
  min(who) AS actor,
  min(account_id) AS account_id,
  list(DISTINCT source_ip) AS source_ips,
  list(DISTINCT user_agent) AS user_agents,
  min(event_time) AS first_seen,
  max(event_time) AS last_seen,
  count(*) AS count,
  arg_min(event_id, {'t': event_time, 'id': event_id}, 1000) AS event_ids,
  'Identity Center sign-in of ' || coalesce(min(who), 'an unknown user')
    || ' failed at ' || string_agg(DISTINCT credential_type, ' / ' ORDER BY credential_type)
    || coalesce(' (workflow ' || min(auth_workflow_id) || ')', '') AS details
FROM named
GROUP BY coalesce(auth_workflow_id, event_id)
