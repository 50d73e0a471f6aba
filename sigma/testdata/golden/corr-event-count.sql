WITH m AS (
  SELECT event_time AS t, event_key, event_id, actor, account_id, source_ip, user_agent, 1 AS r, json_extract_string(raw, '/userIdentity/userName') AS g0 FROM events WHERE event_time IS NOT NULL AND (coalesce((lower(event_name) = 'consolelogin'), false) AND coalesce((lower(json_extract_string(raw, '/responseElements/ConsoleLogin')) = 'failure'), false))
),
w AS (SELECT *, t - INTERVAL '300' SECOND AS start, t AS stop, count(*) OVER (PARTITION BY g0 ORDER BY t RANGE BETWEEN INTERVAL '300' SECOND PRECEDING AND CURRENT ROW) AS n FROM (SELECT * EXCLUDE (r) FROM m QUALIFY row_number() OVER (PARTITION BY event_key ORDER BY r) = 1)),
best AS (SELECT g0,  start, stop, n FROM w WHERE n >= 3 QUALIFY row_number() OVER (PARTITION BY g0 ORDER BY n DESC, stop) = 1)
SELECT array_to_string(list_sort(list(DISTINCT m.actor)), ', ') AS actor,
  min(m.account_id) AS account_id,
  list(DISTINCT m.source_ip) AS source_ips,
  list(DISTINCT m.user_agent) AS user_agents,
  min(m.t) AS first_seen, max(m.t) AS last_seen,
  count(DISTINCT m.event_key) AS count,
  list_transform(list_sort(list(struct_pack(t := m.t, id := m.event_id))), lambda e: e.id) AS event_ids,
  CAST(any_value(best.n) AS VARCHAR) || ' events within 5m' || ' for ' || 'userIdentity.userName' || '=' || coalesce(best.g0, '(none)') AS details
FROM m JOIN best ON m.g0 IS NOT DISTINCT FROM best.g0 AND m.t BETWEEN best.start AND best.stop
GROUP BY best.start, best.stop, best.g0
