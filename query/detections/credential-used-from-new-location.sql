-- id: credential-used-from-new-location
-- title: Temporary credential used from a network location other than the one that obtained it
-- severity: medium
-- escalates_to: high
-- attack: T1550.001, T1528
-- description: A temporary credential (see the sessions table: AssumeRole and the other
--   STS calls, console sign-in sessions) used from a source IP other than the one of
--   the call that obtained it. Only credentials tied to that call by their key (or a
--   console session by its creation date) count: a role session's ARN is shared by
--   every session of the same role and name, so it cannot say which call's address
--   to compare with. When an AWS service obtained it (an EC2 instance
--   profile, a Lambda or service role: the issuing call's source is a service name),
--   the baseline is the address of its first use instead. Only uses from an address
--   count: calls AWS services make with the credential (a service name as source) are
--   left out. One finding per credential, with the event that obtained it (or its first
--   use) and every use from another address. The issuing call's address and user agent
--   come from the sessions table, so they hold when --since leaves that call out.
--
--   Severity is high when the other address also comes with another user-agent family
--   (the first word of the user agent: aws-cli, Boto3, Mozilla, curl, python-requests...)
--   than the one that obtained it: another program on another machine. It is high too
--   when an EC2 instance's role credentials (issued to ec2.amazonaws.com, session name
--   i-...) are used from a public address other than the instance's first one, which is
--   how stolen instance credentials look (trailsift has no list of AWS's addresses, so
--   "outside AWS" is approximated by "public and not the instance's own"). Medium
--   otherwise: the same program from a new address.
-- references:
--   - https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
--   - https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-iam.html#unauthorizedaccess-iam-instancecredentialexfiltrationoutsideaws
--   - https://attack.mitre.org/techniques/T1550/001/
-- false_positives:
--   - A laptop changing networks (office, VPN, home) while a session lasts: same user
--     agent, medium.
--   - Calls through a VPC endpoint or a NAT gateway log another address than the one
--     that obtained the credential.
WITH creds AS MATERIALIZED (
  SELECT session_id, issued_by, issue_event_id, issue_source_ip, account_id, principal_arn,
    lower(regexp_extract(coalesce(issue_user_agent, ''), '^\[?([A-Za-z][A-Za-z0-9_.-]*)', 1)) AS issue_ua,
    -- obtained by an AWS service, or from no address: compare with the first use
    NOT regexp_full_match(coalesce(issue_source_ip, ''), '[0-9.]+|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*') AS by_service,
    issued_by = 'AssumeRole' AND issue_source_ip = 'ec2.amazonaws.com' AND session_name LIKE 'i-%' AS ec2_instance
  FROM sessions
  -- Only a key (or a console session's creation date) ties a credential to
  -- the one call that obtained it; an ARN is shared by every session of
  -- that role and name.
  WHERE credential_kind = 'temporary' AND link IN ('key', 'creation-date') AND events > 0
),
uses AS (
  -- The events the rule sees, with their session (the join of event_sessions).
  SELECT c.*, e.event_time, e.event_id, e.source_ip, e.user_agent, e.actor,
    lower(regexp_extract(coalesce(e.user_agent, ''), '^\[?([A-Za-z][A-Za-z0-9_.-]*)', 1)) AS ua
  FROM events e
  JOIN creds c ON c.session_id = coalesce(e.access_key_id, CASE WHEN e.user_type IN ('AssumedRole', 'FederatedUser') THEN e.user_arn END)
  WHERE regexp_full_match(coalesce(e.source_ip, ''), '[0-9.]+|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*')
),
based AS (
  SELECT u.*,
    CASE WHEN by_service THEN first_value(source_ip) OVER w ELSE issue_source_ip END AS base_ip,
    CASE WHEN by_service THEN first_value(ua) OVER w ELSE issue_ua END AS base_ua,
    CASE WHEN by_service THEN first_value(event_id) OVER w ELSE issue_event_id END AS base_event
  FROM uses u
  WINDOW w AS (PARTITION BY session_id ORDER BY event_time, event_id)
),
moved AS (
  SELECT *,
    NOT (source_ip LIKE '10.%' OR regexp_matches(source_ip, '^172\.(1[6-9]|2[0-9]|3[01])\.') OR source_ip LIKE '192.168.%'
         OR source_ip LIKE '169.254.%' OR regexp_matches(source_ip, '^100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.')
         OR lower(source_ip) LIKE 'fd%' OR lower(source_ip) LIKE 'fe80:%') AS public_ip,
    coalesce(base_ua, '') <> '' AND ua <> base_ua AS other_program
  FROM based
  WHERE source_ip IS DISTINCT FROM base_ip
)
SELECT
  min(actor) AS actor,
  account_id,
  list_concat([min(base_ip)], list(DISTINCT source_ip ORDER BY source_ip)) AS source_ips,
  list(DISTINCT user_agent ORDER BY user_agent) AS user_agents,
  min(event_time) AS first_seen,
  max(event_time) AS last_seen,
  count(*) + 1 AS count,
  list_concat([min(base_event)], arg_min(event_id, {'t': event_time, 'id': event_id}, 1000)) AS event_ids,
  CASE WHEN bool_or(other_program OR (ec2_instance AND public_ip)) THEN 'high' ELSE 'medium' END AS severity,
  'temporary credential ' || session_id || ' (' || issued_by || ', ' || coalesce(principal_arn, 'unknown principal') || ') obtained '
    || CASE WHEN bool_or(by_service) THEN 'by ' || coalesce(min(issue_source_ip), 'an AWS service') || ', first used from ' ELSE 'from ' END
    || coalesce(min(base_ip), '(no address)') || ', then used from ' || array_to_string(list(DISTINCT source_ip ORDER BY source_ip), ', ')
    || ' (' || count(*) || ' event(s), user agent ' || array_to_string(list(DISTINCT ua ORDER BY ua), ', ') || ')' AS details
FROM moved
GROUP BY session_id, account_id, issued_by, principal_arn
