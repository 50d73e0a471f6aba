-- signin_events: the events of console and IAM Identity Center sign-ins:
-- every ConsoleLogin, every Identity Center sign-in step, and every event
-- of a sign-in workflow. Rules read it as a table named signin_events, and
-- signin_attempts is computed from it; detect defines it over the same
-- events the rule sees (narrowed by --since/--until). It has the columns
-- of events that tell who signed in, from where, how and with what
-- result; not raw nor the columns read from it, so it reads no JSON. A run
-- reads the sign-ins from the events once for every rule, and each column
-- more costs DuckDB time and memory for every part file of a dataset.
--
-- Two reads, each with a filter on one column, not one read with an OR of
-- the two: DuckDB tests a one-column filter while scanning (list_contains,
-- not IN, for the same reason) and decodes the other columns for the rows
-- that pass only; an OR it tests after decoding every column of every
-- event. On a bucket's 1,440 small partitions the sign-ins took 1.1 s,
-- not 2.1.
SELECT event_time, event_id, event_source, event_name, aws_region, account_id, recipient_account_id, source_ip,
  user_agent, actor, user_type, user_name, user_arn, principal_id, session_issuer_arn, error_code, outcome,
  mfa_used, mfa_identifier, credential_type, credential_challenge, auth_workflow_id, file_id, record_index
FROM events
WHERE list_contains(['ConsoleLogin', 'UserAuthentication', 'Authenticate', 'CredentialVerification', 'CredentialChallenge'], event_name)
UNION ALL
SELECT event_time, event_id, event_source, event_name, aws_region, account_id, recipient_account_id, source_ip,
  user_agent, actor, user_type, user_name, user_arn, principal_id, session_issuer_arn, error_code, outcome,
  mfa_used, mfa_identifier, credential_type, credential_challenge, auth_workflow_id, file_id, record_index
FROM events
-- every event of a sign-in workflow that the first read left out
WHERE auth_workflow_id IS NOT NULL
  AND NOT coalesce(list_contains(['ConsoleLogin', 'UserAuthentication', 'Authenticate', 'CredentialVerification', 'CredentialChallenge'], event_name), false)
