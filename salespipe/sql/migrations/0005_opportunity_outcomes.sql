-- salespipe schema, version 5: v_opportunity_outcomes, v_opportunity_facts without the pipeline
-- phase. The phase needs the open quotes of every opportunity aggregated, and DuckDB runs a
-- view's joins even when no column of theirs is used: win rate, deal size, cycle time and
-- velocity read this lighter view (same numbers, about half the time at 10M leads).

CREATE VIEW v_opportunity_outcomes AS
SELECT o.opportunity_id,
       o.lead_id,
       o.account_id,
       o.owner,
       w.region,
       o.source,
       o.topic,
       o.state,
       o.status,
       CASE WHEN o.state IN ('won', 'lost') THEN o.state END AS outcome,
       o.created_at,
       o.closed_at,
       CASE WHEN o.state = 'won' THEN o.closed_at END       AS won_at,
       CASE WHEN o.state = 'lost' THEN o.closed_at END      AS lost_at,
       CASE WHEN o.state IN ('won', 'lost')
            THEN EXTRACT(EPOCH FROM (o.closed_at - o.created_at)) / 86400.0 END AS cycle_days,
       o.estimated_value,
       o.probability,
       o.estimated_value * o.probability * 0.01             AS weighted_value,
       o.actual_value
FROM opportunities o
LEFT JOIN owners w ON w.owner = o.owner;

COMMENT ON VIEW v_opportunity_outcomes IS
    'One row per opportunity: who, where from, outcome, values and cycle time (v_opportunity_facts without the pipeline phase, so cheaper). sp.metrics win_rate, avg_deal_size, cycle_time and sales_velocity read it.';
COMMENT ON COLUMN v_opportunity_outcomes.opportunity_id IS 'The opportunity (opportunities.opportunity_id).';
COMMENT ON COLUMN v_opportunity_outcomes.lead_id IS 'The lead it was qualified from; NULL if it was created directly.';
COMMENT ON COLUMN v_opportunity_outcomes.account_id IS 'Its account (join accounts for the name); NULL if none.';
COMMENT ON COLUMN v_opportunity_outcomes.owner IS 'The salesperson who owns it (opportunities.owner).';
COMMENT ON COLUMN v_opportunity_outcomes.region IS 'The owner''s region (owners.region); NULL if the owner is not in owners.';
COMMENT ON COLUMN v_opportunity_outcomes.source IS 'Where the business came from (web, referral, ...), copied from the lead.';
COMMENT ON COLUMN v_opportunity_outcomes.topic IS 'What the deal is about.';
COMMENT ON COLUMN v_opportunity_outcomes.state IS 'State now: open, won or lost.';
COMMENT ON COLUMN v_opportunity_outcomes.status IS 'Status reason now: in_progress, on_hold, won, canceled or out_sold.';
COMMENT ON COLUMN v_opportunity_outcomes.outcome IS 'won or lost for a closed opportunity; NULL while open.';
COMMENT ON COLUMN v_opportunity_outcomes.created_at IS 'When it was created (qualification time for one from a lead), UTC.';
COMMENT ON COLUMN v_opportunity_outcomes.closed_at IS 'When it was closed as won or lost (UTC); NULL while open.';
COMMENT ON COLUMN v_opportunity_outcomes.won_at IS 'closed_at if it was won, else NULL.';
COMMENT ON COLUMN v_opportunity_outcomes.lost_at IS 'closed_at if it was lost, else NULL.';
COMMENT ON COLUMN v_opportunity_outcomes.cycle_days IS 'Days from created_at to closed_at (fractional) for a closed opportunity; NULL while open.';
COMMENT ON COLUMN v_opportunity_outcomes.estimated_value IS 'Estimated revenue (DECIMAL money, copied from the lead).';
COMMENT ON COLUMN v_opportunity_outcomes.probability IS 'Probability of winning in percent (0-100); 100 once won, 0 once lost.';
COMMENT ON COLUMN v_opportunity_outcomes.weighted_value IS 'estimated_value x probability / 100, exact.';
COMMENT ON COLUMN v_opportunity_outcomes.actual_value IS 'Actual revenue of a won deal (the ordered quote total); NULL otherwise.';
