-- id: mfa-device-change
-- title: MFA device created, enabled, deactivated, deleted or resynchronised
-- severity: medium
-- escalates_to: high
-- attack: T1556.006, T1098
-- description: A change to an MFA device: the IAM calls CreateVirtualMFADevice,
--   EnableMFADevice, DeactivateMFADevice, DeleteVirtualMFADevice and ResyncMFADevice, and
--   IAM Identity Center's device registration changes (CompleteVirtualMfaDeviceRegistration,
--   CompleteWebAuthnDeviceRegistration, CreateMfaDeviceForUser, UpdateMfaDeviceForUser,
--   DeleteMfaDeviceForUser, DeleteWebAuthnDevice).
--   Only calls that succeeded. The finding says who changed whose device: the caller is
--   the actor; the device owner comes from requestParameters userName (the caller's own
--   device when it is left out, or the user the device was enabled for when the call
--   names only the device); the device from serialNumber or virtualMFADeviceName.
--
--   Severity is high when a device is deactivated or deleted, or when the device is the
--   root user's; medium otherwise. An attacker who holds a password registers their own
--   device or removes the owner's.
-- references:
--   - https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_enable_virtual.html
--   - https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeactivateMFADevice.html
--   - https://docs.aws.amazon.com/singlesignon/latest/userguide/logging-using-cloudtrail.html
--   - https://attack.mitre.org/techniques/T1556/006/
-- false_positives:
--   - Users setting up MFA or replacing a phone (create and enable, usually by the user
--     themselves).
--   - Administrators removing the device of a user who lost it; confirm with the user.
WITH device_events AS MATERIALIZED (
  -- The JSON parts are read once per event, and only for these events.
  SELECT event_time, event_id, event_name, source_ip, user_agent, actor,
    lower(user_type) = 'root' AS by_root,
    coalesce(recipient_account_id, account_id) AS account,
    request_parameters AS req,
    response_elements AS resp
  FROM credential_events
  -- list_contains, not IN: DuckDB tests it while scanning, so the JSON is
  -- read for these events only (an IN list it tests after reading all).
  WHERE list_contains(['CreateVirtualMFADevice', 'EnableMFADevice', 'DeactivateMFADevice',
                       'DeleteVirtualMFADevice', 'ResyncMFADevice',
                       'CompleteVirtualMfaDeviceRegistration', 'CompleteWebAuthnDeviceRegistration',
                       'CreateMfaDeviceForUser', 'UpdateMfaDeviceForUser', 'DeleteMfaDeviceForUser',
                       'DeleteWebAuthnDevice'], event_name)
    AND error_code IS NULL
    AND (
      (event_source = 'iam.amazonaws.com'
        AND event_name IN ('CreateVirtualMFADevice', 'EnableMFADevice', 'DeactivateMFADevice',
                           'DeleteVirtualMFADevice', 'ResyncMFADevice'))
      OR (event_source IN ('sso.amazonaws.com', 'sso-directory.amazonaws.com', 'identitystore.amazonaws.com')
        AND event_name IN ('CompleteVirtualMfaDeviceRegistration', 'CompleteWebAuthnDeviceRegistration',
                           'CreateMfaDeviceForUser', 'UpdateMfaDeviceForUser', 'DeleteMfaDeviceForUser',
                           'DeleteWebAuthnDevice'))
    )
),
changes AS (
  SELECT *,
    coalesce(
      req ->> 'userName',
      req -> 'user' ->> 'userName',
      req -> 'user' ->> 'userId',
      req ->> 'userId',
      CASE WHEN event_name IN ('EnableMFADevice', 'DeactivateMFADevice', 'ResyncMFADevice') THEN actor END
    ) AS owner,
    -- root managing its own device names no user
    by_root AND (req ->> 'userName') IS NULL
      AND event_name IN ('EnableMFADevice', 'DeactivateMFADevice', 'ResyncMFADevice') AS own_root_device,
    coalesce(
      req ->> 'serialNumber',
      resp -> 'virtualMFADevice' ->> 'serialNumber',
      req ->> 'virtualMFADeviceName',
      req ->> 'deviceId',
      resp ->> 'deviceId'
    ) AS device
  FROM device_events
),
owners AS (
  -- CreateVirtualMFADevice and DeleteVirtualMFADevice name only the device:
  -- its owner is the user it was enabled for or deactivated from.
  SELECT device, min(req ->> 'userName') AS owner
  FROM changes
  WHERE event_name IN ('EnableMFADevice', 'DeactivateMFADevice') AND (req ->> 'userName') IS NOT NULL
  GROUP BY device
),
resolved AS (
  SELECT c.*,
    CASE WHEN c.own_root_device OR lower(coalesce(c.owner, o.owner)) = 'aws root user'
              OR c.device LIKE '%root-account-mfa-device%' THEN 'root'
         ELSE coalesce(c.owner, o.owner) END AS target,
    c.event_name IN ('DeactivateMFADevice', 'DeleteVirtualMFADevice', 'DeleteMfaDeviceForUser', 'DeleteWebAuthnDevice') AS removal
  FROM changes c
  LEFT JOIN owners o ON o.device = c.device
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
  CASE WHEN removal OR target = 'root' THEN 'high' ELSE 'medium' END AS severity,
  coalesce(target || '''s ', '') || 'MFA device ' || coalesce(device, '(not named)') || ' '
    || CASE event_name
         WHEN 'CreateVirtualMFADevice' THEN 'created'
         WHEN 'EnableMFADevice' THEN 'enabled'
         WHEN 'DeactivateMFADevice' THEN 'deactivated'
         WHEN 'ResyncMFADevice' THEN 'resynchronised'
         WHEN 'UpdateMfaDeviceForUser' THEN 'updated'
         WHEN 'DeleteVirtualMFADevice' THEN 'deleted'
         WHEN 'DeleteMfaDeviceForUser' THEN 'deleted'
         WHEN 'DeleteWebAuthnDevice' THEN 'deleted'
         WHEN 'CreateMfaDeviceForUser' THEN 'created'
         ELSE 'registered' END
    || ' by ' || coalesce(actor, 'an unknown caller') || ' (' || event_name || ')' AS details
FROM resolved
