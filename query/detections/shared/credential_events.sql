-- credential_events: the events that create or change a credential: access
-- keys, and IAM and Identity Center MFA devices, every column of events.
-- Rules read it as a table named credential_events; detect defines it over
-- the same events the rule sees (narrowed by --since/--until), so that a
-- run reads them from the events once for every rule. A rule still checks
-- the event source it trusts: the names alone say nothing of it.
SELECT *
FROM events
-- list_contains, not IN: DuckDB tests it while scanning, so the JSON is
-- read for these events only (an IN list it tests after reading all).
WHERE list_contains(['CreateAccessKey', 'CreateVirtualMFADevice', 'EnableMFADevice', 'DeactivateMFADevice',
  'DeleteVirtualMFADevice', 'ResyncMFADevice', 'CompleteVirtualMfaDeviceRegistration',
  'CompleteWebAuthnDeviceRegistration', 'CreateMfaDeviceForUser', 'UpdateMfaDeviceForUser',
  'DeleteMfaDeviceForUser', 'DeleteWebAuthnDevice'], event_name)
