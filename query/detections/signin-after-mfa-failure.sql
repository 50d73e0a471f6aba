-- id: signin-after-mfa-failure
-- title: Successful sign-in soon after MFA failures
-- severity: medium
-- escalates_to: high
-- attack: T1078.004, T1111
-- description: A user failed the second factor (console or IAM Identity Center) and then
--   signed in successfully within the window. The failures are attached to the next
--   successful sign-in of the same user; one finding holds the failures and that
--   sign-in. Whoever failed MFA knew the password; a success afterwards may mean the
--   second factor was phished, relayed or otherwise obtained.
--
--   Severity is medium when the sign-in came from the failures' address and the user
--   had signed in successfully from that address before (more than the window
--   earlier): usually a mistyped code. It is high when the sign-in came from an address
--   none of the failures came from (the password is known to someone else), or from
--   an address the user had never signed in from (a real-time phishing relay looks
--   exactly like this).
-- references:
--   - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html
--   - https://docs.aws.amazon.com/singlesignon/latest/userguide/understanding-sign-in-events.html
--   - https://attack.mitre.org/techniques/T1111/
-- false_positives:
--   - A user mistyping a code, then typing it right: same IP, same browser, seconds apart.
--     Medium when that IP is one the user signed in from before; high on a new one
--     (a new office, a hotel), which a look at the user's history settles.
-- param: window = 1h  (how long after a failure a success still counts)
WITH attempts AS (SELECT * FROM signin_attempts),
seq AS (
  SELECT * FROM attempts WHERE kind IN ('mfa_failure', 'success')
),
nexts AS (
  -- For each failure, the time of the next success of the same user
  -- ('mfa_failure' sorts before 'success' at the same second).
  SELECT *,
    min(CASE WHEN kind = 'success' THEN event_time END) OVER (
      PARTITION BY account_id, user_key ORDER BY event_time, kind, event_id
      ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS next_success
  FROM seq
),
failed AS (
  SELECT account_id, user_key, next_success,
    min(actor) AS actor,
    min(event_time) AS first_failure,
    count(*) AS n,
    list(DISTINCT source_ip) AS ips,
    list(DISTINCT user_agent) AS agents,
    arg_min(event_id, {'t': event_time, 'id': event_id}, 1000) AS ids
  FROM nexts
  WHERE kind = 'mfa_failure' AND next_success <= event_time + $window
  GROUP BY account_id, user_key, next_success
),
succeeded_rows AS (
  SELECT s.*,
    -- the user signed in successfully from this address before (not just now)
    EXISTS (SELECT 1 FROM seq p
            WHERE p.kind = 'success' AND p.user_key = s.user_key
              AND p.account_id IS NOT DISTINCT FROM s.account_id
              AND p.source_ip = s.source_ip AND p.event_time < s.event_time - $window) AS known_ip
  FROM seq s
  WHERE kind = 'success'
    AND EXISTS (SELECT 1 FROM failed f
                WHERE f.user_key = s.user_key AND f.account_id IS NOT DISTINCT FROM s.account_id
                  AND f.next_success = s.event_time)
),
succeeded AS (
  SELECT account_id, user_key, event_time,
    list(DISTINCT source_ip ORDER BY source_ip) AS ips,
    list(DISTINCT user_agent) AS agents,
    list(event_id ORDER BY event_id) AS ids,
    bool_and(known_ip) AS known
  FROM succeeded_rows
  GROUP BY account_id, user_key, event_time
)
SELECT
  f.actor,
  f.account_id,
  list_concat(f.ips, s.ips) AS source_ips,
  list_concat(f.agents, s.agents) AS user_agents,
  f.first_failure AS first_seen,
  f.next_success AS last_seen,
  f.n + len(s.ids) AS count,
  list_concat(f.ids, s.ids) AS event_ids,
  CASE WHEN list_has_all(f.ips, s.ips) AND s.known THEN 'medium' ELSE 'high' END AS severity,
  coalesce(f.actor, 'an unknown user') || ' failed MFA ' || f.n || ' time(s), then signed in '
    || CAST(f.next_success - f.first_failure AS VARCHAR) || ' after the first failure from '
    || array_to_string(s.ips, ', ')
    || CASE WHEN NOT list_has_all(f.ips, s.ips) THEN ', an address none of the failures came from'
            WHEN s.known THEN ', the failures'' address, where the user had signed in before'
            ELSE ', the failures'' address, where the user had not signed in before' END AS details
FROM failed f
JOIN succeeded s
  ON s.account_id IS NOT DISTINCT FROM f.account_id
 AND s.user_key = f.user_key
 AND s.event_time = f.next_success
