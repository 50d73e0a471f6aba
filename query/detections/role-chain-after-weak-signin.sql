-- id: role-chain-after-weak-signin
-- title: Role chain into another account from a console sign-in without MFA or after failed MFA
-- severity: medium
-- escalates_to: high
-- attack: T1078.004, T1550.001, T1021.007
-- description: A console sign-in of an IAM user or root whose session went on to assume
--   roles (see the sessions table: the chain from the sign-in's console session) until
--   it held credentials of another account than the one signed in to, when the sign-in
--   was weak: made without MFA, or preceded by failed MFA attempts of the same user
--   within the window. One finding per sign-in, with the failures, the sign-in and the
--   call that issued each credential along the chains that left the account.
--
--   Severity is high when MFA failed before the sign-in (whoever signed in may have
--   phished or relayed the code, and then moved to another account), medium when the
--   sign-in was simply without MFA.
-- references:
--   - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html
--   - https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining
--   - https://attack.mitre.org/techniques/T1550/001/
-- false_positives:
--   - Administrators without MFA who switch roles into the accounts they manage: medium;
--     enforce MFA for them.
-- param: window = 1h  (how long before the sign-in failed MFA attempts count)
WITH crossing AS MATERIALIZED (
  -- Sessions of a chain that started at a console sign-in, in another account than it.
  SELECT s.session_id, s.origin_event_id, s.account_id, s.chain, s.last_seen, s.source_ips, s.user_agents,
    o.account_id AS origin_account
  FROM sessions s JOIN sessions o ON o.session_id = s.origin_session_id
  WHERE s.depth >= 1 AND o.issued_by = 'ConsoleLogin'
    AND s.account_id IS NOT NULL AND s.account_id IS DISTINCT FROM o.account_id
),
logins AS (
  SELECT a.event_time, a.event_id, a.account_id, a.actor, a.user_key, a.source_ip, a.user_agent, e.mfa_used
  FROM signin_attempts a JOIN signin_events e USING (event_id)
  WHERE a.kind = 'success' AND e.event_name = 'ConsoleLogin' AND e.user_type IN ('IAMUser', 'Root')
    AND a.event_id IN (SELECT origin_event_id FROM crossing)
),
failures AS (
  SELECT l.event_id AS login_id, count(*) AS n, arg_min(f.event_id, {'t': f.event_time, 'id': f.event_id}, 1000) AS ids,
    min(f.event_time) AS first_failure, list(DISTINCT f.source_ip) AS ips
  FROM logins l JOIN signin_attempts f
    ON f.kind = 'mfa_failure' AND f.user_key = l.user_key AND f.account_id IS NOT DISTINCT FROM l.account_id
   AND f.event_time < l.event_time AND f.event_time >= l.event_time - $window
  GROUP BY l.event_id
),
hops AS (
  -- The calls that issued each credential along the crossing chains: each
  -- chain's sessions found by id (testing every session against every
  -- chain took crossing sessions times all sessions).
  SELECT c.origin_event_id, list(DISTINCT h.issue_event_id) FILTER (WHERE h.issue_event_id <> c.origin_event_id) AS ids
  FROM (SELECT origin_event_id, unnest(chain) AS session_id FROM crossing) c JOIN sessions h USING (session_id)
  GROUP BY c.origin_event_id
),
reached AS (
  SELECT origin_event_id, list(DISTINCT account_id ORDER BY account_id) AS accounts, max(last_seen) AS last_seen,
    flatten(list(source_ips)) AS ips, flatten(list(user_agents)) AS agents
  FROM crossing GROUP BY origin_event_id
)
SELECT
  l.actor,
  l.account_id,
  list_distinct(list_concat(coalesce(f.ips, []), [l.source_ip], r.ips)) AS source_ips,
  list_distinct(list_concat([l.user_agent], r.agents)) AS user_agents,
  coalesce(f.first_failure, l.event_time) AS first_seen,
  greatest(l.event_time, r.last_seen) AS last_seen,
  coalesce(f.n, 0) + 1 + len(coalesce(h.ids, [])) AS count,
  list_concat(coalesce(f.ids, []), [l.event_id], list_sort(coalesce(h.ids, []))) AS event_ids,
  CASE WHEN f.n > 0 THEN 'high' ELSE 'medium' END AS severity,
  coalesce(l.actor, 'an unknown user') || ' signed in to ' || coalesce(l.account_id, 'an unknown account') || ' from ' || coalesce(l.source_ip, 'an unknown address')
    || CASE WHEN f.n > 0 THEN ' after ' || f.n || ' failed MFA attempt(s)' ELSE '' END
    || CASE WHEN coalesce(l.mfa_used, 'No') <> 'Yes' THEN ' without MFA' ELSE '' END
    || ', then assumed roles into account(s) ' || array_to_string(r.accounts, ', ') AS details
FROM logins l
JOIN reached r ON r.origin_event_id = l.event_id
LEFT JOIN failures f ON f.login_id = l.event_id
LEFT JOIN hops h ON h.origin_event_id = l.event_id
WHERE f.n > 0 OR coalesce(l.mfa_used, 'No') <> 'Yes'
