-- signin_attempts: every console and Identity Center sign-in attempt,
-- classified as success, password_failure or mfa_failure (kind), with the
-- user it was for (actor, and user_key, which tells the root user from an
-- IAM user named "root"). Rules read it as a table named signin_attempts;
-- Detect defines it over the same events the rule sees (narrowed by
-- --since/--until), so it is written once here for all of them.
WITH names AS (
  -- Identity Center sign-in steps carry the user name on some steps only:
  -- look it up by sign-in workflow, else by Identity Center user id.
  SELECT auth_workflow_id, principal_id, lower(user_type) = 'identitycenteruser' AS idc, user_name
  FROM signin_events
  WHERE auth_workflow_id IS NOT NULL
    AND user_name IS NOT NULL AND user_name <> 'HIDDEN_DUE_TO_SECURITY_REASONS'
),
by_workflow AS (
  SELECT auth_workflow_id, min(user_name) AS user_name FROM names GROUP BY auth_workflow_id
),
by_user_id AS (
  SELECT principal_id, min(user_name) AS user_name FROM names WHERE idc GROUP BY principal_id
)
-- Every console and Identity Center sign-in attempt, classified.
-- user_key tells the root user from an IAM user named "root".
SELECT
  e.event_time, e.event_id, e.account_id, e.source_ip, e.user_agent,
  coalesce(w.user_name, u.user_name, e.actor) AS actor,
  CASE WHEN lower(e.user_type) = 'root' THEN '(root)'
       ELSE lower(coalesce(w.user_name, u.user_name, e.actor)) END AS user_key,
  CASE
    WHEN e.event_name = 'ConsoleLogin' THEN
      CASE WHEN e.outcome = 'Success' THEN 'success'
           WHEN e.mfa_used = 'Yes' THEN 'mfa_failure'
           ELSE 'password_failure' END
    WHEN e.event_name IN ('UserAuthentication', 'Authenticate') THEN
      CASE WHEN e.outcome = 'Success' THEN 'success' END
    WHEN lower(e.credential_challenge) IN ('failure', 'failed') THEN
      CASE WHEN list_has_any(e.factors, ['TOTP', 'WEBAUTHN', 'RESYNC_TOTP']) THEN 'mfa_failure'
           WHEN list_has_any(e.factors, ['PASSWORD']) THEN 'password_failure' END
  END AS kind
FROM (
  SELECT *, string_split(upper(replace(credential_type, ' ', '')), ',') AS factors,
    CASE WHEN lower(user_type) = 'identitycenteruser' THEN principal_id END AS idc_user_id
  FROM signin_events
  WHERE (event_name = 'ConsoleLogin' AND event_source = 'signin.amazonaws.com')
     OR event_name IN ('UserAuthentication', 'Authenticate', 'CredentialVerification', 'CredentialChallenge')
) e
LEFT JOIN by_workflow w ON w.auth_workflow_id = e.auth_workflow_id
LEFT JOIN by_user_id u ON u.principal_id = e.idc_user_id
