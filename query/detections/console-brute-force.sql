-- id: console-brute-force
-- title: Many failed console passwords for one user
-- severity: medium
-- escalates_to: high
-- attack: T1110.001
-- description: Failed console passwords for one user (root included, and IAM Identity
--   Center password failures) at least threshold times, the failures closer together
--   than the window (a slow series counts too). A password failure is a failed
--   ConsoleLogin without MFAUsed Yes (a failure with MFAUsed Yes is an MFA failure, see
--   mfa-failure-burst) or a failed Identity Center PASSWORD verification. Failures
--   for user names that do not exist (logged as HIDDEN_DUE_TO_SECURITY_REASONS) are
--   left to console-password-spray.
--
--   Severity is high when the same user signed in successfully during the burst or
--   within the window after it: the guessing may have worked.
-- references:
--   - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html
--   - https://attack.mitre.org/techniques/T1110/001/
-- false_positives:
--   - A user who forgot a changed password, or a password manager filling an old one.
-- param: threshold = 5  (failures in one burst to fire)
-- param: window = 10m  (failures closer together than this belong to one burst)
WITH attempts AS (SELECT * FROM signin_attempts),
failures AS (
  SELECT *
  FROM attempts
  WHERE kind = 'password_failure'
    AND actor IS NOT NULL AND actor <> 'HIDDEN_DUE_TO_SECURITY_REASONS'
),
marked AS (
  SELECT *,
    CASE WHEN event_time - lag(event_time) OVER (PARTITION BY account_id, user_key ORDER BY event_time, event_id) < $window
         THEN 0 ELSE 1 END AS starts
  FROM failures
),
sessions AS (
  SELECT *,
    sum(starts) OVER (PARTITION BY account_id, user_key ORDER BY event_time, event_id ROWS UNBOUNDED PRECEDING) AS burst
  FROM marked
),
sized AS (
  -- Counting before grouping keeps the (many) lone failures out of the
  -- list aggregates below.
  SELECT *, count(*) OVER (PARTITION BY account_id, user_key, burst) AS size FROM sessions
),
bursts AS (
  SELECT account_id, user_key, burst,
    min(actor) AS actor,
    list(DISTINCT source_ip) AS source_ips,
    list(DISTINCT user_agent) AS user_agents,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen,
    count(*) AS n,
    arg_min(event_id, {'t': event_time, 'id': event_id}, 1000) AS event_ids
  FROM sized
  WHERE size >= $threshold
  GROUP BY account_id, user_key, burst
),
followed AS (
  SELECT b.account_id, b.user_key, b.burst, min(a.event_time) AS success_time
  FROM bursts b
  JOIN attempts a
    ON a.kind = 'success' AND a.user_key = b.user_key AND a.account_id = b.account_id
   AND a.event_time >= b.first_seen AND a.event_time <= b.last_seen + $window
  GROUP BY b.account_id, b.user_key, b.burst
)
SELECT
  b.actor,
  b.account_id,
  b.source_ips,
  b.user_agents,
  b.first_seen,
  b.last_seen,
  b.n AS count,
  b.event_ids,
  CASE WHEN f.success_time IS NULL THEN 'medium' ELSE 'high' END AS severity,
  b.n || ' failed console passwords for ' || b.actor || ' from ' || len(b.source_ips) || ' IP address(es)'
    || coalesce('; the user signed in successfully at ' || strftime(timezone('UTC', f.success_time), '%Y-%m-%d %H:%M:%S UTC'), '') AS details
FROM bursts b
LEFT JOIN followed f ON f.account_id = b.account_id AND f.user_key = b.user_key AND f.burst = b.burst
