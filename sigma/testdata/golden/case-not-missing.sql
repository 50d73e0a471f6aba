SELECT event_time, event_id, actor, source_ip, event_name
FROM events
WHERE ((coalesce((lower(event_source) = 'iam.amazonaws.com'), false)) AND (NOT (coalesce((lower(error_code) = 'accessdenied'), false))) AND (NOT (coalesce((lower(json_extract_string(raw, '/requestParameters/userName')) IS NOT NULL), false))))
ORDER BY event_time
