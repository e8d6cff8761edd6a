-- salespipe schema, version 9: field history. Every change of a tracked field appends a row here
-- in the transaction that makes it (salespipe/history.py): a lead's owner, source and estimated
-- value; an opportunity's owner, estimated value, probability and estimated close date, including
-- the probability a transition sets (100 when won, 0 when lost, the default when reopened).

CREATE TABLE field_changes (
    change_id        BIGINT PRIMARY KEY,
    entity           VARCHAR NOT NULL,   -- lead or opportunity
    entity_id        BIGINT NOT NULL,
    field            VARCHAR NOT NULL,   -- owner, source, estimated_value, probability, estimated_close_date
    old_value        VARCHAR,            -- as text (money as 1200.00, dates as 2026-03-31); NULL: empty
    new_value        VARCHAR,
    "at"             TIMESTAMP NOT NULL, -- a reserved word in DuckDB 2: write f.at or "at"
    actor            VARCHAR
);

-- When the salesperson expects the deal to close (Dynamics' estimated close date).
ALTER TABLE opportunities ADD COLUMN estimated_close_date DATE;

CREATE VIEW v_field_history AS
SELECT f.change_id, f.entity, f.entity_id, f.field, f.old_value, f.new_value, f."at" AS changed_at, f.actor,
       TRY_CAST(f.old_value AS DECIMAL(18,2)) AS old_number,
       TRY_CAST(f.new_value AS DECIMAL(18,2)) AS new_number
FROM field_changes f;

COMMENT ON VIEW v_field_history IS
    'Every change of a tracked field (lead owner, source, estimated value; opportunity owner, estimated value, probability, estimated close date), oldest first by change_id: what the value was and became, when and by whom.';
COMMENT ON COLUMN v_field_history.change_id IS 'The change (field_changes.change_id), in the order the changes were written.';
COMMENT ON COLUMN v_field_history.entity IS 'lead or opportunity.';
COMMENT ON COLUMN v_field_history.entity_id IS 'The lead_id or opportunity_id of the record changed.';
COMMENT ON COLUMN v_field_history.field IS 'The field: owner, source, estimated_value, probability or estimated_close_date.';
COMMENT ON COLUMN v_field_history.old_value IS 'The value before the change, as text; NULL when it was empty.';
COMMENT ON COLUMN v_field_history.new_value IS 'The value after the change, as text; NULL when it was emptied.';
COMMENT ON COLUMN v_field_history.changed_at IS 'When it changed (UTC).';
COMMENT ON COLUMN v_field_history.actor IS 'Who changed it (the actor= of the call), if given.';
COMMENT ON COLUMN v_field_history.old_number IS 'old_value as a number, for estimated_value and probability; NULL otherwise.';
COMMENT ON COLUMN v_field_history.new_number IS 'new_value as a number, for estimated_value and probability; NULL otherwise.';
