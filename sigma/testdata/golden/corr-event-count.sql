WITH m AS (
  SELECT event_time AS t, event_key, event_id, actor, account_id, source_ip, user_agent, 1 AS r, json_extract_string(raw, '/userIdentity/userName') AS g0 FROM events WHERE event_time IS NOT NULL AND (coalesce((lower(event_name) = 'consolelogin'), false) AND coalesce((lower(json_extract_string(raw, '/responseElements/ConsoleLogin')) = 'failure'), false))
),
w AS (SELECT *, t - INTERVAL '300' SECOND AS start, t AS stop, count(*) OVER (PARTITION BY g0 ORDER BY t RANGE BETWEEN INTERVAL '300' SECOND PRECEDING AND CURRENT ROW) AS n FROM (SELECT * EXCLUDE (r) FROM m QUALIFY row_number() OVER (PARTITION BY event_key ORDER BY r) = 1)),
best AS (SELECT g0,  start, stop, n FROM w WHERE n >= 3 QUALIFY row_number() OVER (PARTITION BY g0 ORDER BY n DESC, stop) = 1),
j AS (SELECT m.*, best.start AS b_start, best.stop AS b_stop, best.g0 AS b_g0, best.n AS b_n, dense_rank() OVER (PARTITION BY best.start, best.stop, best.g0 ORDER BY m.t, m.event_id) AS k
  FROM m JOIN best ON m.g0 IS NOT DISTINCT FROM best.g0 AND m.t BETWEEN best.start AND best.stop)
SELECT array_to_string(list_sort(list(DISTINCT actor)), ', ') AS actor,
  min(account_id) AS account_id,
  list(DISTINCT source_ip) AS source_ips,
  list(DISTINCT user_agent) AS user_agents,
  min(t) AS first_seen, max(t) AS last_seen,
  count(DISTINCT event_key) AS count,
  list_transform(list_sort(list(DISTINCT struct_pack(t := t, id := event_id)) FILTER (WHERE k <= 1000)), lambda e: e.id) AS event_ids,
  CAST(any_value(b_n) AS VARCHAR) || ' events within 5m' || ' for ' || 'userIdentity.userName' || '=' || coalesce(b_g0, '(none)') AS details
FROM j
GROUP BY b_start, b_stop, b_g0
