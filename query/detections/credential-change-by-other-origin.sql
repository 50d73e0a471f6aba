-- id: credential-change-by-other-origin
-- title: Access key or MFA device of a user changed by a session that user is not the origin of
-- severity: medium
-- escalates_to: high
-- attack: T1098.001, T1556.006
-- description: CreateAccessKey, or an MFA device change (EnableMFADevice,
--   DeactivateMFADevice, ResyncMFADevice, and CreateVirtualMFADevice or
--   DeleteVirtualMFADevice when they name the user), that succeeded on IAM user U,
--   made with a credential whose chain (see the sessions table) does not start at U:
--   another user, a role session whose origin is someone else or unknown, an
--   AWS service. Calls on the caller's own keys and devices (no userName) are left
--   out. One finding per call.
--
--   Severity is high when the credential reached U's account through a role chain
--   (depth 1 or more) or from another account, or when its origin is unknown: a new key
--   or a new MFA device for someone else, by someone who got there by assuming roles,
--   is how an attacker keeps access. Medium for a user of the same account changing
--   another user's credentials directly (an administrator, usually).
-- references:
--   - https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccessKey.html
--   - https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_enable_virtual.html
--   - https://attack.mitre.org/techniques/T1098/001/
-- false_positives:
--   - Administrators or provisioning automation issuing keys or resetting devices for
--     users: check that the origin is one of them.
WITH changes AS (
  SELECT e.event_time, e.event_id, e.event_name, e.source_ip, e.user_agent, e.actor,
    coalesce(e.recipient_account_id, e.account_id) AS account,
    e.request_parameters ->> 'userName' AS target,
    s.session_id, s.origin_type, s.origin, s.depth, s.account_id AS session_account
  FROM credential_events e
  JOIN sessions s ON s.session_id = coalesce(e.access_key_id, CASE WHEN e.user_type IN ('AssumedRole', 'FederatedUser') THEN e.user_arn END)
  -- list_contains, not IN: DuckDB tests it while scanning, so the JSON is
  -- read for these events only (an IN list it tests after reading all).
  WHERE list_contains(['CreateAccessKey', 'EnableMFADevice', 'DeactivateMFADevice', 'ResyncMFADevice',
                       'CreateVirtualMFADevice', 'DeleteVirtualMFADevice'], e.event_name)
    AND e.error_code IS NULL AND e.event_source = 'iam.amazonaws.com'
),
judged AS (
  SELECT *,
    origin_type = 'IAMUser' AND split_part(origin, ':', 5) = account
      AND lower(string_split(origin, '/')[-1]) = lower(target) AS by_self
  FROM changes
  WHERE target IS NOT NULL AND upper(target) <> 'AWS ROOT USER'
)
SELECT
  actor,
  account AS account_id,
  [source_ip] AS source_ips,
  [user_agent] AS user_agents,
  event_time AS first_seen,
  event_time AS last_seen,
  1 AS count,
  [event_id] AS event_ids,
  CASE WHEN depth > 0 OR origin_type = 'Unknown' OR session_account IS DISTINCT FROM account
            OR split_part(origin, ':', 5) IS DISTINCT FROM account THEN 'high' ELSE 'medium' END AS severity,
  CASE WHEN event_name = 'CreateAccessKey' THEN 'access key created for ' ELSE 'MFA device of ' END || target
    || CASE WHEN event_name = 'CreateAccessKey' THEN '' ELSE ' changed (' || event_name || ')' END
    || ' by ' || coalesce(actor, 'an unknown caller') || ', whose credential ' || session_id || ' comes from '
    || origin_type || ' ' || coalesce(origin, '(unknown)')
    || CASE WHEN depth > 0 THEN ' through ' || depth || ' role hop(s)' ELSE '' END AS details
FROM judged
WHERE NOT by_self
