SELECT event_time, event_id, actor, source_ip, event_name
FROM events
WHERE (coalesce((lower(event_source) = 'iam.amazonaws.com'), false) AND coalesce(((lower(event_name) = 'createuser') OR (lower(event_name) = 'deleteuser')), false))
ORDER BY event_time
