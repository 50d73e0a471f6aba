SELECT event_time, event_id, actor, source_ip, event_name
FROM events
WHERE (coalesce((contains(json_extract_string(raw, '/requestParameters/userData'), 'Y3VybCBodHRw') OR contains(json_extract_string(raw, '/requestParameters/userData'), 'N1cmwgaHR0c') OR contains(json_extract_string(raw, '/requestParameters/userData'), 'jdXJsIGh0dH')), false))
ORDER BY event_time
