-- id: mfa-failure-burst
-- title: Repeated MFA failures for one user
-- severity: high
-- attack: T1621, T1110
-- description: Several failed second-factor attempts for the same user, console (IAM and
--   root) and IAM Identity Center together. Failures closer together than the window
--   form one burst, however long it lasts, so a slow series is one finding with all of
--   its event ids, not one alert per event. It fires when a burst has at least
--   threshold failures. It runs over the whole history loaded, not just the last
--   minutes, unlike a SIEM threshold that only looks back from "now".
-- references:
--   - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html
--   - https://docs.aws.amazon.com/singlesignon/latest/userguide/understanding-sign-in-events.html
--   - https://attack.mitre.org/techniques/T1621/
-- false_positives:
--   - A user whose authenticator clock drifted and who keeps retrying.
--   - A user who switched phones and still uses the old device.
-- param: threshold = 2  (failures in one burst to fire)
-- param: window = 15m  (failures closer together than this belong to one burst)
WITH names AS (
  -- Identity Center sign-in steps carry the user name on some steps only:
  -- look it up by sign-in workflow, else by Identity Center user id.
  SELECT auth_workflow_id, principal_id, lower(user_type) = 'identitycenteruser' AS idc, user_name
  FROM events
  WHERE auth_workflow_id IS NOT NULL
    AND user_name IS NOT NULL AND user_name <> 'HIDDEN_DUE_TO_SECURITY_REASONS'
),
by_workflow AS (
  SELECT auth_workflow_id, min(user_name) AS user_name FROM names GROUP BY auth_workflow_id
),
by_user_id AS (
  SELECT principal_id, min(user_name) AS user_name FROM names WHERE idc GROUP BY principal_id
),
attempts AS (
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
    FROM events
    WHERE (event_name = 'ConsoleLogin' AND event_source = 'signin.amazonaws.com')
       OR event_name IN ('UserAuthentication', 'Authenticate', 'CredentialVerification', 'CredentialChallenge')
  ) e
  LEFT JOIN by_workflow w ON w.auth_workflow_id = e.auth_workflow_id
  LEFT JOIN by_user_id u ON u.principal_id = e.idc_user_id
),
failures AS (
  SELECT * FROM attempts WHERE kind = 'mfa_failure'
),
marked AS (
  SELECT *,
    CASE WHEN event_time - lag(event_time) OVER (PARTITION BY account_id, user_key ORDER BY event_time, event_id) < $window
         THEN 0 ELSE 1 END AS starts
  FROM failures
),
bursts AS (
  SELECT *,
    sum(starts) OVER (PARTITION BY account_id, user_key ORDER BY event_time, event_id ROWS UNBOUNDED PRECEDING) AS burst
  FROM marked
),
sized AS (
  -- Counting before grouping keeps the (many) lone failures out of the
  -- list aggregates below.
  SELECT *, count(*) OVER (PARTITION BY account_id, user_key, burst) AS size FROM bursts
)
SELECT
  min(actor) AS actor,
  account_id,
  list(DISTINCT source_ip) AS source_ips,
  list(DISTINCT user_agent) AS user_agents,
  min(event_time) AS first_seen,
  max(event_time) AS last_seen,
  count(*) AS count,
  list(event_id ORDER BY event_time, event_id) AS event_ids,
  count(*) || ' failed MFA attempts for ' || coalesce(min(actor), 'an unknown user')
    || ' from ' || count(DISTINCT source_ip) || ' IP address(es) in ' || CAST(max(event_time) - min(event_time) AS VARCHAR) AS details
FROM sized
WHERE size >= $threshold
GROUP BY account_id, user_key, burst
