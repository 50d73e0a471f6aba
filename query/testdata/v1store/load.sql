COPY event_rows FROM '$EXPORT/event_rows.csv' (FORMAT 'csv', quote '"', delimiter ',', header 1);
COPY files FROM '$EXPORT/files.csv' (FORMAT 'csv', quote '"', delimiter ',', header 1);
COPY findings FROM '$EXPORT/findings.csv' (FORMAT 'csv', quote '"', delimiter ',', header 1);
COPY ingest_errors FROM '$EXPORT/ingest_errors.csv' (FORMAT 'csv', quote '"', delimiter ',', header 1);
