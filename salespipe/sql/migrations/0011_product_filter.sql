-- salespipe schema, version 11: the product filter of the metrics asks only whether an opportunity
-- has a product, so it needs no deduplicated pairs: v_opportunity_products_any reads the same two
-- sources as v_opportunity_products (the fact table, and the quote lines that are not final in
-- it) without the anti-join that removes the pairs found in both, and lets a filter on sku reach
-- both scans. At 10M leads a product-filtered metric took ~130 ms through v_opportunity_products,
-- ~50 ms through this view.

CREATE VIEW v_opportunity_products_any AS
WITH mark AS (
    SELECT watermark FROM fact_watermarks WHERE fact = 'products'
)
SELECT f.opportunity_id, f.sku FROM fact_opportunity_products f
UNION ALL
SELECT q.opportunity_id, l.sku
FROM quote_lines l JOIN quotes q ON q.quote_id = l.quote_id
WHERE l.quote_id > (SELECT watermark FROM mark) AND q.quote_id > (SELECT watermark FROM mark)
UNION ALL
SELECT q.opportunity_id, l.sku
FROM fact_pending_quotes p JOIN quote_lines l ON l.quote_id = p.quote_id JOIN quotes q ON q.quote_id = p.quote_id;

COMMENT ON VIEW v_opportunity_products_any IS
    'Which products were quoted on which opportunity, a pair possibly listed more than once: for questions of whether an opportunity has a product (filters). Count or join pairs through v_opportunity_products, which lists each once.';
COMMENT ON COLUMN v_opportunity_products_any.opportunity_id IS 'The opportunity (opportunities.opportunity_id).';
COMMENT ON COLUMN v_opportunity_products_any.sku IS 'A product SKU on at least one line of a quote of the opportunity (products.sku).';
