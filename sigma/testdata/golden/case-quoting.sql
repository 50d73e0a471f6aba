SELECT event_time, event_id, actor, source_ip, event_name
FROM events
WHERE ((coalesce((lower(json_extract_string(raw, '/requestParameters/userName')) = 'o''brien'), false)) OR (coalesce((lower(json_extract_string(raw, '/requestParameters/userName')) = 'x'') or true or ('''), false)) OR (coalesce((lower(json_extract_string(raw, '/requestParameters/a''b~1c~0d')) = 'x'), false)))
ORDER BY event_time
