-- id: mfa-removed-then-login
-- title: MFA device removed, then a console sign-in without MFA
-- severity: high
-- attack: T1556.006, T1078.004
-- description: A user's MFA device was deactivated or deleted (DeactivateMFADevice,
--   DeleteVirtualMFADevice, whose owner is found from the device's other events), and within the window a console sign-in for that user,
--   successful or failed, came without MFA. This is how an attacker who holds a
--   password and an active session gets around a second factor for good. Removals of
--   the same user's devices close together are one finding, with every sign-in that
--   followed them.
-- references:
--   - https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeactivateMFADevice.html
--   - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html
--   - https://attack.mitre.org/techniques/T1556/006/
-- false_positives:
--   - A user who lost a device, had an administrator remove it, and signs in to register
--     a new one (expect an EnableMFADevice soon after).
-- param: window = 1h  (how long after the removal a sign-in still counts)
WITH device_events AS MATERIALIZED (
  -- The JSON parts are read once per event, and only for these events.
  SELECT event_time, event_id, event_name, source_ip, user_agent, actor,
    lower(user_type) = 'root' AS by_root,
    coalesce(recipient_account_id, account_id) AS acct,
    request_parameters ->> 'userName' AS user_name,
    request_parameters ->> 'serialNumber' AS device
  FROM credential_events
  -- list_contains, not IN: DuckDB tests it while scanning, so the JSON is
  -- read for these events only (an IN list it tests after reading all).
  WHERE list_contains(['EnableMFADevice', 'DeactivateMFADevice', 'DeleteVirtualMFADevice'], event_name)
    AND event_source = 'iam.amazonaws.com'
    AND error_code IS NULL
),
owners AS (
  -- DeleteVirtualMFADevice names only the device: its owner is the user it
  -- was enabled for or deactivated from.
  SELECT device, min(user_name) AS owner
  FROM device_events
  WHERE event_name IN ('EnableMFADevice', 'DeactivateMFADevice') AND user_name IS NOT NULL
  GROUP BY device
),
removals AS (
  SELECT d.event_time, d.event_id, d.source_ip, d.user_agent, d.actor AS remover, d.device, d.acct,
    coalesce(d.user_name, CASE WHEN d.event_name = 'DeactivateMFADevice' THEN d.actor END, o.owner) AS owner,
    -- root removing its own device names no user
    d.by_root AND d.user_name IS NULL AND d.event_name = 'DeactivateMFADevice' AS own_root_device
  FROM device_events d
  LEFT JOIN owners o ON o.device = d.device
  WHERE d.event_name IN ('DeactivateMFADevice', 'DeleteVirtualMFADevice')
),
targets AS (
  SELECT *,
    CASE WHEN own_root_device OR lower(owner) = 'aws root user' OR device LIKE '%root-account-mfa-device%' THEN 'root'
         ELSE owner END AS target,
    CASE WHEN own_root_device OR lower(owner) = 'aws root user' OR device LIKE '%root-account-mfa-device%' THEN '(root)'
         ELSE lower(owner) END AS user_key
  FROM removals
),
marked AS (
  SELECT *,
    CASE WHEN event_time - lag(event_time) OVER (PARTITION BY acct, user_key ORDER BY event_time, event_id) < $window
         THEN 0 ELSE 1 END AS starts
  FROM targets
  WHERE target IS NOT NULL
),
grouped AS (
  SELECT *,
    sum(starts) OVER (PARTITION BY acct, user_key ORDER BY event_time, event_id ROWS UNBOUNDED PRECEDING) AS grp
  FROM marked
),
logins AS (
  SELECT event_time, event_id, source_ip, user_agent, outcome,
    coalesce(recipient_account_id, account_id) AS acct,
    CASE WHEN lower(user_type) = 'root' THEN '(root)' ELSE lower(actor) END AS user_key
  FROM signin_events
  WHERE event_name = 'ConsoleLogin'
    AND event_source = 'signin.amazonaws.com'
    AND mfa_used IS DISTINCT FROM 'Yes'
),
followed AS (
  SELECT DISTINCT r.acct, r.user_key, r.grp, l.event_time, l.event_id, l.source_ip, l.user_agent, l.outcome
  FROM grouped r
  JOIN logins l
    ON l.acct = r.acct AND l.user_key = r.user_key
   AND l.event_time > r.event_time AND l.event_time <= r.event_time + $window
),
removed AS (
  SELECT acct, user_key, grp,
    min(target) AS target,
    min(event_time) AS first_removal,
    list(event_id ORDER BY event_time, event_id) AS ids,
    list(DISTINCT source_ip) AS ips,
    list(DISTINCT user_agent) AS agents,
    string_agg(DISTINCT coalesce(device, '(not named)'), ', ' ORDER BY coalesce(device, '(not named)')) AS devices,
    string_agg(DISTINCT coalesce(remover, 'an unknown caller'), ', ' ORDER BY coalesce(remover, 'an unknown caller')) AS removers
  FROM grouped
  GROUP BY acct, user_key, grp
),
signed_in AS (
  SELECT acct, user_key, grp,
    max(event_time) AS last_login,
    count(*) AS n,
    count(*) FILTER (WHERE outcome = 'Success') AS ok,
    arg_min(event_id, {'t': event_time, 'id': event_id}, 1000) AS ids,
    list(DISTINCT source_ip) AS ips,
    list(DISTINCT user_agent) AS agents
  FROM followed
  GROUP BY acct, user_key, grp
)
SELECT
  r.target AS actor,
  r.acct AS account_id,
  list_concat(r.ips, s.ips) AS source_ips,
  list_concat(r.agents, s.agents) AS user_agents,
  r.first_removal AS first_seen,
  s.last_login AS last_seen,
  len(r.ids) + s.n AS count,
  list_concat(r.ids, s.ids) AS event_ids,
  r.target || '''s MFA device ' || r.devices || ' removed by ' || r.removers || ', then '
    || s.ok || ' successful and ' || (s.n - s.ok) || ' failed console sign-in(s) without MFA' AS details
FROM removed r
JOIN signed_in s ON s.acct = r.acct AND s.user_key = r.user_key AND s.grp = r.grp
