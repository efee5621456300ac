-- Log indexes that earn their cost on every stored row: the list query names only the filters
-- that are set, so trace_id and request_id lookups use their indexes. The service index goes
-- (a handful of services: a scan of the newest rows by timestamp finds them as fast), and
-- trace_id, NULL on most rows, is indexed only where it is set.
DROP INDEX idx_application_logs_service;
DROP INDEX idx_application_logs_trace_id;
CREATE INDEX idx_application_logs_trace_id ON application_logs (trace_id)
    WHERE trace_id IS NOT NULL;
