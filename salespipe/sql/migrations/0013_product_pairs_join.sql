-- v_opportunity_products, the same pairs read a cheaper way. 0007 removed the fact table's pairs
-- that the live quotes list too with an anti-join on (opportunity_id, sku) over every fact row;
-- joined to the opportunities (metrics by product), that took ~0.57 s at 10M leads against
-- ~0.39 s for the fact table alone. Now only the opportunities that have live quote lines (a
-- few thousand after a facts refresh) are looked at pair by pair: the fact rows of every other
-- opportunity pass on an integer semi-join, and the pairs of those few are deduplicated
-- (~0.42 s; bench/dashboards_bench.py times win_rate by product). The rows are the same:
-- doctor compares the view with v_opportunity_products_rebuilt.

CREATE OR REPLACE VIEW v_opportunity_products AS
WITH mark AS (
    SELECT watermark FROM fact_watermarks WHERE fact = 'products'
), live AS (
    SELECT q.opportunity_id, l.sku
    FROM quote_lines l JOIN quotes q ON q.quote_id = l.quote_id
    WHERE l.quote_id > (SELECT watermark FROM mark) AND q.quote_id > (SELECT watermark FROM mark)
    UNION ALL
    SELECT q.opportunity_id, l.sku
    FROM fact_pending_quotes p JOIN quote_lines l ON l.quote_id = p.quote_id JOIN quotes q ON q.quote_id = p.quote_id
), touched AS (
    SELECT DISTINCT opportunity_id FROM live
)
SELECT f.opportunity_id, f.sku
FROM fact_opportunity_products f
WHERE NOT EXISTS (SELECT 1 FROM touched t WHERE t.opportunity_id = f.opportunity_id)
UNION ALL
SELECT DISTINCT opportunity_id, sku
FROM (
    SELECT f.opportunity_id, f.sku
    FROM fact_opportunity_products f
    WHERE EXISTS (SELECT 1 FROM touched t WHERE t.opportunity_id = f.opportunity_id)
    UNION ALL
    SELECT opportunity_id, sku FROM live
);

COMMENT ON VIEW v_opportunity_products IS
    'Which products were quoted on which opportunity: one row per (opportunity, SKU) found on a line of any quote revision, whatever the quote state. The product filter and breakdown of salespipe.metrics use it. Reads fact_opportunity_products for the quotes whose lines are final, quote_lines for the rest; equals v_opportunity_products_rebuilt.';
COMMENT ON COLUMN v_opportunity_products.opportunity_id IS 'The opportunity (opportunities.opportunity_id).';
COMMENT ON COLUMN v_opportunity_products.sku IS 'A product SKU on at least one line of a quote of the opportunity (products.sku).';
