-- salespipe schema, version 10: an import batch's field changes. A re-import that changes a
-- tracked field (owner, source, estimated value, probability, close date) writes field_changes
-- like any edit; the batch remembers the change ids it wrote (after first_change_id up to
-- last_change_id) so that `salespipe import undo` removes them with the events. Batches imported
-- before this version wrote no field changes: both columns stay empty there.

ALTER TABLE import_batches ADD COLUMN first_change_id BIGINT;
ALTER TABLE import_batches ADD COLUMN last_change_id BIGINT;
