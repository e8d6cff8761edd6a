-- salespipe schema, version 7: fact tables for the dashboards' two slow questions, how long
-- records stay in each state (from events) and which products were quoted on which opportunity
-- (from quote lines). Rebuilding either on every dashboard query scans every event or every quote
-- line (0.3-0.4 s at 1M leads, seconds at 10M).
--
-- Neither needs the transitions to keep it current, and neither can be stale: each holds only what
-- can no longer change after its watermark, and the views below add the rest from the base tables
-- at query time. Events are append-only and numbered in order, so the closed stays of a record with
-- no event after the watermark are final; the lines of a quote that is no longer a draft are final
-- (only drafts are edited, quotes are never deleted). A watermark far behind makes the views
-- slower, never wrong. `salespipe.facts.refresh(db)` (or `python -m salespipe.facts`) moves them
-- forward; `salespipe doctor` checks each view against its rebuild from the base tables.

CREATE TABLE fact_watermarks (
    fact           VARCHAR PRIMARY KEY,
    watermark      BIGINT NOT NULL
);

COMMENT ON TABLE fact_watermarks IS
    'How far each fact table goes: stays covers events up to event_id = watermark, products covers quotes up to quote_id = watermark.';


-- -- time in stage ---------------------------------------------------------------------------------

-- Every closed stay of every record, from events: a stay starts at an event whose to_state/to_status
-- differs from the record's previous event (repeated partial payments are one stay) and ends at the
-- record's next such event. Stays still current are left out.
CREATE VIEW v_stays_rebuilt AS
WITH ev AS (
    SELECT e.entity, e.entity_id, e.event_id, e.to_state, e.to_status, e."at",
           lag(e.to_state) OVER w AS prev_state, lag(e.to_status) OVER w AS prev_status
    FROM events e
    WINDOW w AS (PARTITION BY e.entity, e.entity_id ORDER BY e."at", e.event_id)
), starts AS (
    SELECT entity, entity_id, event_id, to_state, to_status, "at",
           lead("at") OVER (PARTITION BY entity, entity_id ORDER BY "at", event_id) AS left_at
    FROM ev
    WHERE prev_state IS NULL OR prev_state <> to_state OR prev_status <> to_status
)
SELECT entity, entity_id, to_state AS state, to_status AS status, "at" AS entered_at, left_at,
       EXTRACT(EPOCH FROM (left_at - "at")) / 86400.0 AS days
FROM starts
WHERE left_at IS NOT NULL;

COMMENT ON VIEW v_stays_rebuilt IS
    'Every closed stay of every record rebuilt from events (slow at scale; v_stays gives the same rows from fact_stays).';
COMMENT ON COLUMN v_stays_rebuilt.entity IS 'lead, opportunity, quote, order or invoice.';
COMMENT ON COLUMN v_stays_rebuilt.entity_id IS 'The record (leads.lead_id, opportunities.opportunity_id, ...).';
COMMENT ON COLUMN v_stays_rebuilt.state IS 'The state it stayed in.';
COMMENT ON COLUMN v_stays_rebuilt.status IS 'The status reason it stayed in.';
COMMENT ON COLUMN v_stays_rebuilt.entered_at IS 'When it entered the state and status (the event''s at, UTC).';
COMMENT ON COLUMN v_stays_rebuilt.left_at IS 'When it left them: its next event with another state or status.';
COMMENT ON COLUMN v_stays_rebuilt.days IS 'left_at - entered_at in days (fractional).';

CREATE TABLE fact_stays (
    entity       VARCHAR NOT NULL,
    entity_id    BIGINT NOT NULL,
    state        VARCHAR NOT NULL,
    status       VARCHAR NOT NULL,
    entered_at   TIMESTAMP NOT NULL,
    left_at      TIMESTAMP NOT NULL,
    days         DOUBLE NOT NULL
);

INSERT INTO fact_stays SELECT * FROM v_stays_rebuilt ORDER BY entity, entered_at;
INSERT INTO fact_watermarks SELECT 'stays', coalesce(max(event_id), 0) FROM events;

CREATE VIEW v_stays AS
WITH mark AS (
    SELECT watermark FROM fact_watermarks WHERE fact = 'stays'
), touched AS (
    SELECT DISTINCT e.entity, e.entity_id FROM events e WHERE e.event_id > (SELECT watermark FROM mark)
), ev AS (
    SELECT e.entity, e.entity_id, e.event_id, e.to_state, e.to_status, e."at",
           lag(e.to_state) OVER w AS prev_state, lag(e.to_status) OVER w AS prev_status
    FROM events e
    JOIN touched t ON t.entity = e.entity AND t.entity_id = e.entity_id
    WINDOW w AS (PARTITION BY e.entity, e.entity_id ORDER BY e."at", e.event_id)
), starts AS (
    SELECT entity, entity_id, event_id, to_state, to_status, "at",
           lead("at") OVER (PARTITION BY entity, entity_id ORDER BY "at", event_id) AS left_at
    FROM ev
    WHERE prev_state IS NULL OR prev_state <> to_state OR prev_status <> to_status
)
SELECT f.entity, f.entity_id, f.state, f.status, f.entered_at, f.left_at, f.days
FROM fact_stays f
LEFT JOIN touched t ON t.entity = f.entity AND t.entity_id = f.entity_id
WHERE t.entity_id IS NULL
UNION ALL
SELECT entity, entity_id, to_state, to_status, "at", left_at, EXTRACT(EPOCH FROM (left_at - "at")) / 86400.0
FROM starts
WHERE left_at IS NOT NULL;

COMMENT ON VIEW v_stays IS
    'Every closed stay of every record (entity, id, state, status, entered_at, left_at, days): time in stage. fact_stays for records with no event since its watermark, rebuilt from events for the others; equals v_stays_rebuilt.';
COMMENT ON COLUMN v_stays.entity IS 'lead, opportunity, quote, order or invoice.';
COMMENT ON COLUMN v_stays.entity_id IS 'The record (leads.lead_id, opportunities.opportunity_id, ...).';
COMMENT ON COLUMN v_stays.state IS 'The state it stayed in.';
COMMENT ON COLUMN v_stays.status IS 'The status reason it stayed in.';
COMMENT ON COLUMN v_stays.entered_at IS 'When it entered the state and status (the event''s at, UTC).';
COMMENT ON COLUMN v_stays.left_at IS 'When it left them: its next event with another state or status.';
COMMENT ON COLUMN v_stays.days IS 'left_at - entered_at in days (fractional).';


-- -- quoted products -------------------------------------------------------------------------------

-- The old definition of v_opportunity_products, kept as the rebuild doctor compares with.
CREATE VIEW v_opportunity_products_rebuilt AS
SELECT DISTINCT q.opportunity_id, l.sku
FROM quotes q
JOIN quote_lines l ON l.quote_id = q.quote_id;

COMMENT ON VIEW v_opportunity_products_rebuilt IS
    'v_opportunity_products rebuilt from every quote line (slow at scale; doctor compares the two).';
COMMENT ON COLUMN v_opportunity_products_rebuilt.opportunity_id IS 'The opportunity (opportunities.opportunity_id).';
COMMENT ON COLUMN v_opportunity_products_rebuilt.sku IS 'A product SKU on a line of one of its quotes (products.sku).';

-- (opportunity, SKU) pairs from the quotes up to the watermark that were no longer drafts then;
-- fact_pending_quotes lists the drafts up to the watermark, whose lines may still change.
CREATE TABLE fact_opportunity_products (
    opportunity_id  BIGINT NOT NULL,
    sku             VARCHAR NOT NULL
);
CREATE TABLE fact_pending_quotes (
    quote_id        BIGINT PRIMARY KEY
);

INSERT INTO fact_opportunity_products
SELECT DISTINCT q.opportunity_id, l.sku FROM quotes q JOIN quote_lines l ON l.quote_id = q.quote_id
WHERE q.state <> 'draft'
ORDER BY 1, 2;
INSERT INTO fact_pending_quotes SELECT quote_id FROM quotes WHERE state = 'draft' ORDER BY 1;
INSERT INTO fact_watermarks SELECT 'products', coalesce(max(quote_id), 0) FROM quotes;

CREATE OR REPLACE VIEW v_opportunity_products AS
WITH mark AS (
    SELECT watermark FROM fact_watermarks WHERE fact = 'products'
), live AS (
    SELECT q.opportunity_id, l.sku
    FROM quote_lines l JOIN quotes q ON q.quote_id = l.quote_id
    WHERE l.quote_id > (SELECT watermark FROM mark) AND q.quote_id > (SELECT watermark FROM mark)
    UNION
    SELECT q.opportunity_id, l.sku
    FROM fact_pending_quotes p JOIN quote_lines l ON l.quote_id = p.quote_id JOIN quotes q ON q.quote_id = p.quote_id
)
SELECT f.opportunity_id, f.sku
FROM fact_opportunity_products f
LEFT JOIN live x ON x.opportunity_id = f.opportunity_id AND x.sku = f.sku
WHERE x.opportunity_id IS NULL
UNION ALL
SELECT opportunity_id, sku FROM live;

COMMENT ON VIEW v_opportunity_products IS
    'Which products were quoted on which opportunity: one row per (opportunity, SKU) found on a line of any quote revision, whatever the quote state. The product filter and breakdown of salespipe.metrics use it. Reads fact_opportunity_products for the quotes whose lines are final, quote_lines for the rest; equals v_opportunity_products_rebuilt.';
COMMENT ON COLUMN v_opportunity_products.opportunity_id IS 'The opportunity (opportunities.opportunity_id).';
COMMENT ON COLUMN v_opportunity_products.sku IS 'A product SKU on at least one line of a quote of the opportunity (products.sku).';
