SELECT event_time, event_id, actor, source_ip, event_name
FROM events
WHERE (coalesce((lower(event_name) = 'getuser'), false) AND coalesce((json_extract_string(raw, '/errorCode') IS NULL), false))
ORDER BY event_time
