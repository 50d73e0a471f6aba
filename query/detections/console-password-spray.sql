-- id: console-password-spray
-- title: Failed console passwords for many users from one IP address
-- severity: medium
-- escalates_to: high
-- attack: T1110.003
-- description: Failed console passwords (ConsoleLogin without MFAUsed Yes, and IAM Identity
--   Center PASSWORD verifications) for at least threshold distinct user names from one
--   source IP, the failures closer together than the window, across all accounts.
--   Each failure logged as HIDDEN_DUE_TO_SECURITY_REASONS (a user name that does not
--   exist, which CloudTrail does not record) counts as one more name, so guessing
--   non-existent names is caught too.
--
--   Severity is high when any sign-in from that IP succeeded during the spray or
--   within the window after it.
-- references:
--   - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
--   - https://attack.mitre.org/techniques/T1110/003/
-- false_positives:
--   - A shared egress address (office NAT, VPN) where several people mistype passwords
--     over the course of a busy morning; raise the threshold or shorten the window.
-- param: threshold = 5  (distinct user names in one spray to fire)
-- param: window = 10m  (failures from the IP closer together than this belong to one spray)
WITH attempts AS (SELECT * FROM signin_attempts),
failures AS (
  SELECT *,
    actor IS NULL OR actor = 'HIDDEN_DUE_TO_SECURITY_REASONS' AS hidden
  FROM attempts
  WHERE kind = 'password_failure' AND source_ip IS NOT NULL
),
marked AS (
  SELECT *,
    CASE WHEN event_time - lag(event_time) OVER (PARTITION BY source_ip ORDER BY event_time, event_id) < $window
         THEN 0 ELSE 1 END AS starts
  FROM failures
),
sessions AS (
  SELECT *,
    sum(starts) OVER (PARTITION BY source_ip ORDER BY event_time, event_id ROWS UNBOUNDED PRECEDING) AS spray
  FROM marked
),
sized AS (
  -- A spray of threshold names has at least threshold failures: counting
  -- first keeps the (many) lone failures out of the aggregates below.
  SELECT *, count(*) OVER (PARTITION BY source_ip, spray) AS size FROM sessions
),
sprays AS (
  SELECT source_ip, spray,
    string_agg(DISTINCT account_id, ', ' ORDER BY account_id) AS accounts,
    list(DISTINCT user_agent) AS user_agents,
    list(DISTINCT actor ORDER BY actor) FILTER (WHERE NOT hidden) AS users,
    count(DISTINCT user_key) FILTER (WHERE NOT hidden) AS named,
    count(*) FILTER (WHERE hidden) AS unknown_names,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen,
    count(*) AS n,
    arg_min(event_id, {'t': event_time, 'id': event_id}, 1000) AS event_ids
  FROM sized
  WHERE size >= $threshold
  GROUP BY source_ip, spray
  HAVING count(DISTINCT user_key) FILTER (WHERE NOT hidden) + count(*) FILTER (WHERE hidden) >= $threshold
),
followed AS (
  SELECT s.source_ip, s.spray, list(DISTINCT a.actor ORDER BY a.actor) AS who
  FROM sprays s
  JOIN attempts a
    ON a.kind = 'success' AND a.source_ip = s.source_ip
   AND a.event_time >= s.first_seen AND a.event_time <= s.last_seen + $window
  GROUP BY s.source_ip, s.spray
)
SELECT
  s.source_ip AS actor,
  s.accounts AS account_id,
  [s.source_ip] AS source_ips,
  s.user_agents,
  s.first_seen,
  s.last_seen,
  s.n AS count,
  s.event_ids,
  CASE WHEN f.who IS NULL THEN 'medium' ELSE 'high' END AS severity,
  s.n || ' failed console passwords from ' || s.source_ip || ' for '
    || (s.named + s.unknown_names) || ' user names: '
    || coalesce(array_to_string(list_slice(s.users, 1, 10), ', '), '')
    || CASE WHEN len(s.users) > 10 THEN ' and ' || (len(s.users) - 10) || ' more' ELSE '' END
    || CASE WHEN s.unknown_names > 0 THEN ' (+' || s.unknown_names || ' that do not exist)' ELSE '' END
    || coalesce('; then a successful sign-in from the same IP as ' || array_to_string(f.who, ', '), '') AS details
FROM sprays s
LEFT JOIN followed f ON f.source_ip = s.source_ip AND f.spray = s.spray
