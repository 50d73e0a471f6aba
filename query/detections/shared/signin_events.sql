-- signin_events: the events of console and IAM Identity Center sign-ins:
-- every ConsoleLogin, every Identity Center sign-in step, and every event
-- of a sign-in workflow. Rules read it as a table named signin_events, and
-- signin_attempts is computed from it; detect defines it over the same
-- events the rule sees (narrowed by --since/--until). It has the columns
-- of events that tell who signed in, from where, how and with what
-- result; not raw nor the columns read from it, so it reads no JSON. A run
-- reads the sign-ins from the events once for every rule, and each column
-- more costs DuckDB time and memory for every part file of a dataset.
SELECT event_time, event_id, event_source, event_name, aws_region, account_id, recipient_account_id, source_ip,
  user_agent, actor, user_type, user_name, user_arn, principal_id, session_issuer_arn, error_code, outcome,
  mfa_used, mfa_identifier, credential_type, credential_challenge, auth_workflow_id, file_id, record_index
FROM events
WHERE event_name IN ('ConsoleLogin', 'UserAuthentication', 'Authenticate', 'CredentialVerification', 'CredentialChallenge')
   OR auth_workflow_id IS NOT NULL
