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
WITH attempts AS (SELECT * FROM signin_attempts),
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
  arg_min(event_id, {'t': event_time, 'id': event_id}, 1000) AS event_ids,
  count(*) || ' failed MFA attempts for ' || coalesce(min(actor), 'an unknown user')
    || ' from ' || count(DISTINCT source_ip) || ' IP address(es) in ' || CAST(max(event_time) - min(event_time) AS VARCHAR) AS details
FROM sized
WHERE size >= $threshold
GROUP BY account_id, user_key, burst
