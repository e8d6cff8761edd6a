-- salespipe schema, version 10: an import batch's field changes. A re-import that changes a
-- tracked field (owner, source, estimated value, probability, close date) writes field_changes
-- like any edit; the batch remembers the change ids it wrote (after first_change_id up to
-- last_change_id) so that `salespipe import undo` removes them with the events. Batches imported
-- before this version wrote no field changes: both columns stay empty there.
--
-- A stage history file (OpportunityHistory) also carries each row's amount, probability and close
-- date: they become the deal's field history, in time order before its close. The changes this
-- replaces (the close's own probability change, say) are kept in `import_replaced_field_changes`,
-- as `import_replaced_events` keeps the events, so that undo puts them back.

ALTER TABLE import_batches ADD COLUMN first_change_id BIGINT;
ALTER TABLE import_batches ADD COLUMN last_change_id BIGINT;

CREATE TABLE import_replaced_field_changes (
    batch_id         BIGINT NOT NULL,
    change           JSON NOT NULL       -- to_json of the field_changes row
);
