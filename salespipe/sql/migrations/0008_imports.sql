-- salespipe schema, version 8: imports of CRM exports (salespipe/imports), undoable per batch.
--
-- An import batch writes its records through the same transitions as everything else (events,
-- lead_stages); these tables remember what it did. `import_keys` ties each record to its id in
-- the source CRM, so a re-import updates instead of duplicating; `import_changes` holds, per
-- record, what the batch did (created it, or updated it from a `before` image) and a hash of the
-- row as the batch left it, so `salespipe import undo BATCH` can restore everything and refuse
-- records changed since. Events the batch wrote are the ones numbered after first_event_id up to
-- last_event_id (a file has one writer at a time, and an import is one transaction).

CREATE TABLE import_batches (
    batch_id         BIGINT PRIMARY KEY,
    kind             VARCHAR NOT NULL,   -- leads, accounts, contacts, opportunities, opportunity_history
    system           VARCHAR NOT NULL,   -- the source CRM: salesforce, dynamics, hubspot, or a mapping's own
    file             VARCHAR NOT NULL,
    mapping          VARCHAR NOT NULL,   -- a preset name or a mapping file
    imported_at      TIMESTAMP NOT NULL,
    actor            VARCHAR,
    rows_read        BIGINT NOT NULL,
    created          BIGINT NOT NULL,
    updated          BIGINT NOT NULL,
    unchanged        BIGINT NOT NULL,
    skipped          BIGINT NOT NULL,
    rejected         BIGINT NOT NULL,
    first_event_id   BIGINT NOT NULL,
    last_event_id    BIGINT NOT NULL,
    undone_at        TIMESTAMP
);

CREATE TABLE import_keys (
    system           VARCHAR NOT NULL,
    entity           VARCHAR NOT NULL,   -- lead, account, contact, opportunity
    external_id      VARCHAR NOT NULL,   -- the record's id in the source CRM (trimmed, normalized)
    record_id        BIGINT NOT NULL,    -- leads.lead_id, accounts.account_id, ...
    batch_id         BIGINT NOT NULL     -- the batch that created the record
);

CREATE TABLE import_changes (
    batch_id         BIGINT NOT NULL,
    entity           VARCHAR NOT NULL,
    record_id        BIGINT NOT NULL,
    change           VARCHAR NOT NULL,   -- created or updated
    before           JSON,               -- the row before an update (to_json of it); NULL when created
    after_hash       UBIGINT NOT NULL    -- hash of the row as the batch left it
);

-- Events a stage-history import took out to put the record's events back in time order (the
-- stage changes before its close); undo puts them back.
CREATE TABLE import_replaced_events (
    batch_id         BIGINT NOT NULL,
    event            JSON NOT NULL       -- to_json of the events row
);

CREATE VIEW v_imported_records AS
SELECT k.entity, k.record_id, k.system, k.external_id, k.batch_id, b.kind, b.file, b.imported_at
FROM import_keys k
JOIN import_batches b ON b.batch_id = k.batch_id;

COMMENT ON VIEW v_imported_records IS
    'Every record an import created, with its id in the source CRM: what marks a record as imported (a won opportunity without quotes is one).';
COMMENT ON COLUMN v_imported_records.entity IS 'lead, account, contact or opportunity.';
COMMENT ON COLUMN v_imported_records.record_id IS 'The record (leads.lead_id, accounts.account_id, contacts.contact_id or opportunities.opportunity_id).';
COMMENT ON COLUMN v_imported_records.system IS 'The CRM it came from: salesforce, dynamics, hubspot, or the system a mapping names.';
COMMENT ON COLUMN v_imported_records.external_id IS 'Its id in that CRM (the key a re-import updates it by).';
COMMENT ON COLUMN v_imported_records.batch_id IS 'The import batch that created it (import_batches; salespipe import undo BATCH).';
COMMENT ON COLUMN v_imported_records.kind IS 'What that batch imported: leads, accounts, contacts or opportunities.';
COMMENT ON COLUMN v_imported_records.file IS 'The file that batch read.';
COMMENT ON COLUMN v_imported_records.imported_at IS 'When that batch ran (UTC).';

-- The CRM stage changes of imported opportunities (opportunity_history imports): events with
-- action 'stage', from the open state to the same open state. They are no transition of the
-- state machine (the state stays open), so time in stage by state (v_stays) is unchanged; this view
-- gives the time spent in each CRM stage instead.
CREATE VIEW v_crm_stage_stays AS
WITH ev AS (
    SELECT e.entity_id, e.event_id, e."at", e.action, e.to_state,
           CASE WHEN e.action = 'stage' THEN e.note END AS stage,
           lead(e."at") OVER (PARTITION BY e.entity_id ORDER BY e.event_id) AS next_at
    FROM events e
    WHERE e.entity = 'opportunity'
)
SELECT entity_id AS opportunity_id, stage, "at" AS entered_at, next_at AS left_at,
       EXTRACT(EPOCH FROM (next_at - "at")) / 86400.0 AS days
FROM ev
WHERE action = 'stage';

COMMENT ON VIEW v_crm_stage_stays IS
    'Time imported opportunities spent in each stage of their CRM (Prospecting, Negotiation/Review ...), from the stage events an opportunity_history import wrote.';
COMMENT ON COLUMN v_crm_stage_stays.opportunity_id IS 'The opportunity (opportunities.opportunity_id).';
COMMENT ON COLUMN v_crm_stage_stays.stage IS 'The CRM stage label, trimmed (events.note of the stage event).';
COMMENT ON COLUMN v_crm_stage_stays.entered_at IS 'When the CRM recorded the opportunity entering the stage (UTC).';
COMMENT ON COLUMN v_crm_stage_stays.left_at IS 'When it left it: its next event (another stage, or its close); NULL while it is still there.';
COMMENT ON COLUMN v_crm_stage_stays.days IS 'left_at - entered_at in days (fractional); NULL while it is still there.';
