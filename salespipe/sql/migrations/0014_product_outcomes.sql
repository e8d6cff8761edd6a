-- salespipe schema, version 14: each opportunity's outcome kept beside its quoted products, so the
-- win rate by product reads no join. Through v_opportunity_outcomes and v_opportunity_products it
-- was a hash join of every opportunity with every (opportunity, SKU) pair: ~0.5 s at 10M leads, the
-- larger half of the win-rate dashboard's full re-read (bench/dashboards_bench.py).
--
-- fact_product_outcomes holds, for every opportunity as it stood at its watermark (fact
-- 'outcomes': an event id), one row per SKU of fact_opportunity_products, or one row without a
-- SKU when it has none there. v_product_outcomes takes those rows for the opportunities nothing
-- has touched since. For the others it reads their products live (a quote after the products
-- watermark, or a draft the products fact still waits for), and their outcome too when they have
-- an event after the outcomes watermark (the view at 10M leads: ~0.2 s, against ~0.5 s for the join). The
-- transitions write an event for every change of state and actual value, and created_at never
-- changes; imports and their undo re-read the opportunities they change (salespipe.facts.
-- forget_outcomes). salespipe.facts.refresh moves it on with the other facts, and doctor
-- compares the view with v_product_outcomes_rebuilt.

CREATE TABLE fact_product_outcomes (
    opportunity_id  BIGINT NOT NULL,
    sku             VARCHAR,
    state           VARCHAR NOT NULL,
    actual_value    DECIMAL(18,2),
    created_at      TIMESTAMP NOT NULL
);

INSERT INTO fact_product_outcomes
SELECT o.opportunity_id, p.sku, o.state, o.actual_value, o.created_at
FROM opportunities o LEFT JOIN fact_opportunity_products p ON p.opportunity_id = o.opportunity_id
ORDER BY 1, 2;
INSERT INTO fact_watermarks (fact, watermark) SELECT 'outcomes', coalesce(max(event_id), 0) FROM events;

CREATE VIEW v_product_outcomes_touched AS
SELECT opportunity_id, bool_or(moved) AS moved
FROM (
    SELECT opportunity_id, false AS moved FROM quotes
    WHERE quote_id > (SELECT watermark FROM fact_watermarks WHERE fact = 'products')
    UNION ALL
    SELECT q.opportunity_id, false FROM fact_pending_quotes p JOIN quotes q ON q.quote_id = p.quote_id
    UNION ALL
    SELECT entity_id, true FROM events
    WHERE entity = 'opportunity' AND event_id > (SELECT watermark FROM fact_watermarks WHERE fact = 'outcomes')
)
GROUP BY opportunity_id;

CREATE VIEW v_product_outcomes AS
WITH products_mark AS (
    SELECT watermark FROM fact_watermarks WHERE fact = 'products'
), touched AS MATERIALIZED (  -- materialized: DuckDB then builds the joins below on these few ids
    SELECT opportunity_id, moved FROM v_product_outcomes_touched
), live AS (  -- the outcome of the touched: as stored when only their quotes changed, else as it is
    SELECT DISTINCT opportunity_id, state, actual_value, created_at FROM fact_product_outcomes
    WHERE opportunity_id IN (SELECT opportunity_id FROM touched WHERE NOT moved)
    UNION ALL
    SELECT opportunity_id, state, actual_value, created_at FROM opportunities
    WHERE opportunity_id IN (SELECT opportunity_id FROM touched WHERE moved)
), live_pairs AS (  -- v_opportunity_products of the touched: their final pairs, and the lines of the rest
    SELECT f.opportunity_id, f.sku FROM fact_opportunity_products f
    WHERE f.opportunity_id IN (SELECT opportunity_id FROM touched)
    UNION
    SELECT q.opportunity_id, l.sku
    FROM quotes q JOIN quote_lines l ON l.quote_id = q.quote_id  -- from the few quotes to their lines
    WHERE q.quote_id > (SELECT watermark FROM products_mark)
    UNION
    SELECT q.opportunity_id, l.sku
    FROM fact_pending_quotes p JOIN quotes q ON q.quote_id = p.quote_id JOIN quote_lines l ON l.quote_id = p.quote_id
)
SELECT f.opportunity_id, f.sku, f.state, f.actual_value, f.created_at
FROM fact_product_outcomes f
WHERE NOT EXISTS (SELECT 1 FROM touched t WHERE t.opportunity_id = f.opportunity_id)
UNION ALL
SELECT o.opportunity_id, p.sku, o.state, o.actual_value, o.created_at
FROM live o LEFT JOIN live_pairs p ON p.opportunity_id = o.opportunity_id;

CREATE VIEW v_product_outcomes_rebuilt AS
SELECT o.opportunity_id, p.sku, o.state, o.actual_value, o.created_at
FROM opportunities o LEFT JOIN v_opportunity_products_rebuilt p ON p.opportunity_id = o.opportunity_id;

COMMENT ON VIEW v_product_outcomes IS
    'Every opportunity once per product quoted on it (once with no SKU when none was), with its state, actual value and creation time: what the win rate by product counts. Reads fact_product_outcomes for the opportunities untouched since its watermark, the base tables for the rest; equals v_product_outcomes_rebuilt.';
COMMENT ON COLUMN v_product_outcomes.opportunity_id IS 'The opportunity (opportunities.opportunity_id).';
COMMENT ON COLUMN v_product_outcomes.sku IS 'A product SKU on a line of one of its quotes (v_opportunity_products); NULL when none.';
COMMENT ON COLUMN v_product_outcomes.state IS 'The opportunity''s state now: open, won or lost.';
COMMENT ON COLUMN v_product_outcomes.actual_value IS 'Its actual value (set when won).';
COMMENT ON COLUMN v_product_outcomes.created_at IS 'When the opportunity was created (UTC).';
COMMENT ON VIEW v_product_outcomes_touched IS
    'The opportunities v_product_outcomes reads from the base tables rather than fact_product_outcomes: a quote after the products watermark, a draft still pending, or an event after the outcomes watermark. salespipe facts reads them into the fact table again.';
COMMENT ON COLUMN v_product_outcomes_touched.opportunity_id IS 'The opportunity (opportunities.opportunity_id).';
COMMENT ON COLUMN v_product_outcomes_touched.moved IS 'Whether it has an event since: its outcome is read live too, not only its products.';
COMMENT ON VIEW v_product_outcomes_rebuilt IS
    'v_product_outcomes rebuilt from the base tables (slow at scale; doctor compares the two).';
COMMENT ON COLUMN v_product_outcomes_rebuilt.opportunity_id IS 'The opportunity (opportunities.opportunity_id).';
COMMENT ON COLUMN v_product_outcomes_rebuilt.sku IS 'A product SKU on a line of one of its quotes; NULL when none.';
COMMENT ON COLUMN v_product_outcomes_rebuilt.state IS 'The opportunity''s state now.';
COMMENT ON COLUMN v_product_outcomes_rebuilt.actual_value IS 'Its actual value (set when won).';
COMMENT ON COLUMN v_product_outcomes_rebuilt.created_at IS 'When the opportunity was created (UTC).';
