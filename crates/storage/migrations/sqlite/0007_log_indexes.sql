-- Log indexes that earn their cost on every stored row (see the PostgreSQL migration of the same
-- number); the table is in the attached observability file since migration 0006.
DROP INDEX observability.idx_application_logs_service;
DROP INDEX observability.idx_application_logs_trace_id;
CREATE INDEX observability.idx_application_logs_trace_id ON application_logs (trace_id)
    WHERE trace_id IS NOT NULL;
