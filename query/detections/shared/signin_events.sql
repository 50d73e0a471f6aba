-- signin_events: the events of console and IAM Identity Center sign-ins:
-- every ConsoleLogin, every Identity Center sign-in step, and every event
-- of a sign-in workflow. Rules read it as a table named signin_events, and
-- signin_attempts is computed from it; detect defines it over the same
-- events the rule sees (narrowed by --since/--until). It has the typed
-- columns of events: not raw, the columns read from raw (user_identity,
-- request_parameters, ...) nor issued_credential: a run reads the sign-ins
-- from the events once for every rule, without decompressing their JSON.
SELECT event_key, event_time, event_version, event_source, event_name, event_type, event_category, aws_region,
  source_ip, user_agent, error_code, error_message, read_only, management_event, user_type, user_name, user_arn,
  principal_id, account_id, access_key_id, session_issuer_arn, session_issuer_name, invoked_by, mfa_authenticated,
  actor, recipient_account_id, event_id, login_result, mfa_used, mfa_identifier, credential_type,
  credential_challenge, auth_workflow_id, outcome, file_id, record_index
FROM events
WHERE event_name IN ('ConsoleLogin', 'UserAuthentication', 'Authenticate', 'CredentialVerification', 'CredentialChallenge')
   OR auth_workflow_id IS NOT NULL
