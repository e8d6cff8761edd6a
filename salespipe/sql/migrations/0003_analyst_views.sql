-- salespipe schema, version 3: the analyst views behind salespipe.metrics (docs/metrics.md).
--
-- Two fact views carry what the metrics read: v_lead_stages (one row per lead with the time it
-- reached each funnel stage) and v_opportunity_facts (one row per opportunity with its
-- dimensions, outcome, values, cycle time and pipeline phase). Helper views aggregate the quotes
-- and invoices of each opportunity once (joined, never correlated subqueries). The fact views
-- hold ids, not names, where a name would cost a join per query (account_id: join accounts);
-- DuckDB does not drop an unused join from a view. v_funnel, v_win_rate and v_pipeline are
-- ready-made metric frames. Plain SQL (date_trunc and EXTRACT(EPOCH ...) as in PostgreSQL).


-- -- helpers: what the documents of an opportunity say ------------------------------------------

CREATE VIEW v_opportunity_products AS
SELECT DISTINCT q.opportunity_id, l.sku
FROM quotes q
JOIN quote_lines l ON l.quote_id = q.quote_id;

COMMENT ON VIEW v_opportunity_products IS
    'Which products were quoted on which opportunity: one row per (opportunity, SKU) found on a line of any quote revision, whatever the quote state. The product filter and breakdown of salespipe.metrics use it.';
COMMENT ON COLUMN v_opportunity_products.opportunity_id IS 'The opportunity (opportunities.opportunity_id).';
COMMENT ON COLUMN v_opportunity_products.sku IS 'A product SKU on at least one line of a quote of the opportunity (products.sku).';


CREATE VIEW v_opportunity_quotes AS
SELECT q.opportunity_id,
       count(CASE WHEN q.revision = 1 THEN 1 END)           AS quotes,
       count(*)                                             AS revisions,
       min(q.created_at)                                    AS first_quote_at
FROM quotes q
GROUP BY q.opportunity_id;

COMMENT ON VIEW v_opportunity_quotes IS
    'The quotes of each opportunity that has any: how many, and when the first was created.';
COMMENT ON COLUMN v_opportunity_quotes.opportunity_id IS 'The opportunity (opportunities.opportunity_id).';
COMMENT ON COLUMN v_opportunity_quotes.quotes IS 'Number of quotes (quote numbers: each has one revision 1).';
COMMENT ON COLUMN v_opportunity_quotes.revisions IS 'Number of quote revisions (rows of quotes), all states included.';
COMMENT ON COLUMN v_opportunity_quotes.first_quote_at IS 'When the first quote of the opportunity was created (UTC): the moment it was quoted.';


CREATE VIEW v_opportunity_open_quotes AS
SELECT q.opportunity_id,
       count(CASE WHEN q.state = 'draft' THEN 1 END)        AS draft_quotes,
       count(CASE WHEN q.state = 'active' THEN 1 END)       AS active_quotes
FROM quotes q
WHERE q.state IN ('draft', 'active')
GROUP BY q.opportunity_id;

COMMENT ON VIEW v_opportunity_open_quotes IS
    'The open (draft or active) quote revisions of each opportunity that has any: what decides its pipeline phase.';
COMMENT ON COLUMN v_opportunity_open_quotes.opportunity_id IS 'The opportunity (opportunities.opportunity_id).';
COMMENT ON COLUMN v_opportunity_open_quotes.draft_quotes IS 'Revisions in state draft now.';
COMMENT ON COLUMN v_opportunity_open_quotes.active_quotes IS 'Revisions in state active now.';


CREATE VIEW v_opportunity_invoices AS
SELECT i.opportunity_id,
       count(*)                                             AS invoices,
       min(i.created_at)                                    AS first_invoice_at,
       min(CASE WHEN i.state = 'paid' THEN i.closed_at END) AS first_paid_at
FROM invoices i
GROUP BY i.opportunity_id;

COMMENT ON VIEW v_opportunity_invoices IS
    'The invoices of each opportunity that has any: how many, when the first was created and when the first was paid in full.';
COMMENT ON COLUMN v_opportunity_invoices.opportunity_id IS 'The opportunity (opportunities.opportunity_id).';
COMMENT ON COLUMN v_opportunity_invoices.invoices IS 'Number of invoices of the opportunity, canceled ones included.';
COMMENT ON COLUMN v_opportunity_invoices.first_invoice_at IS 'When its first invoice was created (UTC): the moment it was invoiced.';
COMMENT ON COLUMN v_opportunity_invoices.first_paid_at IS 'When its first invoice reached state paid (invoices.closed_at, UTC); NULL if none is paid.';


CREATE VIEW v_opportunity_stages AS
SELECT o.opportunity_id,
       o.state,
       o.created_at,
       q.first_quote_at                                     AS quoted_at,
       o.closed_at,
       CASE WHEN o.state = 'won' THEN o.closed_at END       AS won_at,
       CASE WHEN o.state = 'lost' THEN o.closed_at END      AS lost_at,
       i.first_invoice_at                                   AS invoiced_at,
       i.first_paid_at                                      AS paid_at
FROM opportunities o
LEFT JOIN v_opportunity_quotes q ON q.opportunity_id = o.opportunity_id
LEFT JOIN v_opportunity_invoices i ON i.opportunity_id = o.opportunity_id;

COMMENT ON VIEW v_opportunity_stages IS
    'When each opportunity reached each stage after qualification: quoted, won or lost, invoiced, paid. The opportunity part of v_lead_stages.';
COMMENT ON COLUMN v_opportunity_stages.opportunity_id IS 'The opportunity (opportunities.opportunity_id).';
COMMENT ON COLUMN v_opportunity_stages.state IS 'State now: open, won or lost.';
COMMENT ON COLUMN v_opportunity_stages.created_at IS 'When it was created (UTC).';
COMMENT ON COLUMN v_opportunity_stages.quoted_at IS 'When its first quote was created (UTC); NULL if never quoted.';
COMMENT ON COLUMN v_opportunity_stages.closed_at IS 'When it was closed as won or lost (UTC); NULL while open.';
COMMENT ON COLUMN v_opportunity_stages.won_at IS 'closed_at if it was won, else NULL.';
COMMENT ON COLUMN v_opportunity_stages.lost_at IS 'closed_at if it was lost, else NULL.';
COMMENT ON COLUMN v_opportunity_stages.invoiced_at IS 'When its first invoice was created (UTC); NULL if never invoiced.';
COMMENT ON COLUMN v_opportunity_stages.paid_at IS 'When its first invoice reached state paid (UTC); NULL if none is paid.';


-- -- the fact views ----------------------------------------------------------------------------

CREATE VIEW v_opportunity_facts AS
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
       CASE WHEN o.state = 'open' THEN
            CASE WHEN q.active_quotes > 0 THEN 'propose'
                 WHEN q.draft_quotes > 0 THEN 'develop'
                 ELSE 'qualify' END
       END                                                  AS phase,
       o.created_at,
       o.closed_at,
       CASE WHEN o.state = 'won' THEN o.closed_at END       AS won_at,
       CASE WHEN o.state = 'lost' THEN o.closed_at END      AS lost_at,
       CASE WHEN o.state IN ('won', 'lost')
            THEN EXTRACT(EPOCH FROM (o.closed_at - o.created_at)) / 86400.0 END AS cycle_days,
       o.estimated_value,
       o.probability,
       o.estimated_value * o.probability * 0.01             AS weighted_value,
       o.actual_value,
       coalesce(q.draft_quotes, 0)                          AS draft_quotes,
       coalesce(q.active_quotes, 0)                         AS active_quotes
FROM opportunities o
LEFT JOIN owners w ON w.owner = o.owner
LEFT JOIN v_opportunity_open_quotes q ON q.opportunity_id = o.opportunity_id;

COMMENT ON VIEW v_opportunity_facts IS
    'One row per opportunity: who, where from, outcome, values, cycle time and pipeline phase. sp.metrics win_rate, pipeline, avg_deal_size, cycle_time and sales_velocity read it; v_opportunity_stages has its quote and invoice times.';
COMMENT ON COLUMN v_opportunity_facts.opportunity_id IS 'The opportunity (opportunities.opportunity_id).';
COMMENT ON COLUMN v_opportunity_facts.lead_id IS 'The lead it was qualified from; NULL if it was created directly.';
COMMENT ON COLUMN v_opportunity_facts.account_id IS 'Its account (join accounts for the name); NULL if none.';
COMMENT ON COLUMN v_opportunity_facts.owner IS 'The salesperson who owns it (opportunities.owner).';
COMMENT ON COLUMN v_opportunity_facts.region IS 'The owner''s region (owners.region); NULL if the owner is not in owners.';
COMMENT ON COLUMN v_opportunity_facts.source IS 'Where the business came from (web, referral, ...), copied from the lead.';
COMMENT ON COLUMN v_opportunity_facts.topic IS 'What the deal is about.';
COMMENT ON COLUMN v_opportunity_facts.state IS 'State now: open, won or lost.';
COMMENT ON COLUMN v_opportunity_facts.status IS 'Status reason now: in_progress, on_hold, won, canceled or out_sold.';
COMMENT ON COLUMN v_opportunity_facts.outcome IS 'won or lost for a closed opportunity; NULL while open.';
COMMENT ON COLUMN v_opportunity_facts.phase IS 'Pipeline phase of an open opportunity: propose (it has an active quote), develop (a draft quote, no active one) or qualify (no open quote); NULL once closed.';
COMMENT ON COLUMN v_opportunity_facts.created_at IS 'When it was created (qualification time for one from a lead), UTC.';
COMMENT ON COLUMN v_opportunity_facts.closed_at IS 'When it was closed as won or lost (UTC); NULL while open.';
COMMENT ON COLUMN v_opportunity_facts.won_at IS 'closed_at if it was won, else NULL.';
COMMENT ON COLUMN v_opportunity_facts.lost_at IS 'closed_at if it was lost, else NULL.';
COMMENT ON COLUMN v_opportunity_facts.cycle_days IS 'Days from created_at to closed_at (fractional) for a closed opportunity; NULL while open.';
COMMENT ON COLUMN v_opportunity_facts.estimated_value IS 'Estimated revenue (DECIMAL money, copied from the lead).';
COMMENT ON COLUMN v_opportunity_facts.probability IS 'Probability of winning in percent (0-100); 100 once won, 0 once lost.';
COMMENT ON COLUMN v_opportunity_facts.weighted_value IS 'estimated_value x probability / 100, exact.';
COMMENT ON COLUMN v_opportunity_facts.actual_value IS 'Actual revenue of a won deal (the ordered quote total); NULL otherwise.';
COMMENT ON COLUMN v_opportunity_facts.draft_quotes IS 'Quote revisions in state draft now.';
COMMENT ON COLUMN v_opportunity_facts.active_quotes IS 'Quote revisions in state active now.';


CREATE VIEW v_lead_stages AS
SELECT l.lead_id,
       l.opportunity_id,
       l.account_id,
       l.owner,
       w.region,
       l.source,
       l.state,
       l.status,
       l.created_at,
       CASE WHEN l.state = 'qualified' THEN l.closed_at END    AS qualified_at,
       CASE WHEN l.state = 'disqualified' THEN l.closed_at END AS disqualified_at,
       s.quoted_at,
       s.won_at,
       s.lost_at,
       s.invoiced_at,
       s.paid_at
FROM leads l
LEFT JOIN owners w ON w.owner = l.owner
LEFT JOIN v_opportunity_stages s ON s.opportunity_id = l.opportunity_id;

COMMENT ON VIEW v_lead_stages IS
    'One row per lead with the time it reached each funnel stage (NULL: not reached): lead, qualified, quoted, won, invoiced, paid. sp.metrics.funnel reads it.';
COMMENT ON COLUMN v_lead_stages.lead_id IS 'The lead (leads.lead_id).';
COMMENT ON COLUMN v_lead_stages.opportunity_id IS 'The opportunity its qualification created; NULL if not qualified (or qualified without one).';
COMMENT ON COLUMN v_lead_stages.account_id IS 'The account its qualification created or matched (join accounts for the name); NULL if none.';
COMMENT ON COLUMN v_lead_stages.owner IS 'The salesperson who owns the lead (leads.owner).';
COMMENT ON COLUMN v_lead_stages.region IS 'The owner''s region (owners.region); NULL if the owner is not in owners.';
COMMENT ON COLUMN v_lead_stages.source IS 'Where the lead came from (web, referral, ...).';
COMMENT ON COLUMN v_lead_stages.state IS 'Lead state now: open, qualified or disqualified.';
COMMENT ON COLUMN v_lead_stages.status IS 'Lead status reason now (new, contacted, qualified, lost, ...).';
COMMENT ON COLUMN v_lead_stages.created_at IS 'Stage lead: when the lead was created (UTC).';
COMMENT ON COLUMN v_lead_stages.qualified_at IS 'Stage qualified: when it was qualified (leads.closed_at of a qualified lead).';
COMMENT ON COLUMN v_lead_stages.disqualified_at IS 'When it was disqualified, if it is disqualified now (leads.closed_at); not a funnel stage.';
COMMENT ON COLUMN v_lead_stages.quoted_at IS 'Stage quoted: when the first quote on its opportunity was created.';
COMMENT ON COLUMN v_lead_stages.won_at IS 'Stage won: when its opportunity was closed as won.';
COMMENT ON COLUMN v_lead_stages.lost_at IS 'When its opportunity was closed as lost, if lost now; not a funnel stage.';
COMMENT ON COLUMN v_lead_stages.invoiced_at IS 'Stage invoiced: when the first invoice of its opportunity was created.';
COMMENT ON COLUMN v_lead_stages.paid_at IS 'Stage paid: when the first invoice of its opportunity reached state paid.';


-- -- ready-made metric frames ------------------------------------------------------------------

CREATE VIEW v_funnel AS
WITH cohort AS (
    SELECT date_trunc('month', s.created_at) AS period,
           count(*)            AS n_lead,
           count(s.qualified_at) AS n_qualified,
           count(s.quoted_at)  AS n_quoted,
           count(s.won_at)     AS n_won,
           count(s.invoiced_at) AS n_invoiced,
           count(s.paid_at)    AS n_paid
    FROM v_lead_stages s
    GROUP BY date_trunc('month', s.created_at)
), stages AS (
    SELECT c.period, st.stage, st.stage_order,
           CASE st.stage_order WHEN 1 THEN c.n_lead WHEN 2 THEN c.n_qualified WHEN 3 THEN c.n_quoted
                               WHEN 4 THEN c.n_won WHEN 5 THEN c.n_invoiced ELSE c.n_paid END AS n,
           CASE st.stage_order WHEN 1 THEN c.n_lead WHEN 2 THEN c.n_lead WHEN 3 THEN c.n_qualified
                               WHEN 4 THEN c.n_quoted WHEN 5 THEN c.n_won ELSE c.n_invoiced END AS previous,
           c.n_lead AS first
    FROM cohort c
    CROSS JOIN (VALUES ('lead', 1), ('qualified', 2), ('quoted', 3), ('won', 4), ('invoiced', 5), ('paid', 6))
        AS st(stage, stage_order)
)
SELECT period,
       stage,
       CAST(stage_order AS BIGINT)                          AS stage_order,
       CAST(n AS BIGINT)                                    AS "count",
       CAST(n AS DOUBLE) / NULLIF(previous, 0)              AS conversion_from_previous,
       CAST(n AS DOUBLE) / NULLIF(first, 0)                 AS conversion_from_first
FROM stages
ORDER BY period, stage_order;

COMMENT ON VIEW v_funnel IS
    'The lead funnel by month of lead creation (cohorts): sp.metrics.funnel(db, period="month").';
COMMENT ON COLUMN v_funnel.period IS 'First day of the month the leads were created in.';
COMMENT ON COLUMN v_funnel.stage IS 'Funnel stage: lead, qualified, quoted, won, invoiced or paid.';
COMMENT ON COLUMN v_funnel.stage_order IS 'Position of the stage, 1 (lead) to 6 (paid).';
COMMENT ON COLUMN v_funnel."count" IS 'Leads of the month that ever reached the stage.';
COMMENT ON COLUMN v_funnel.conversion_from_previous IS 'count / count of the previous stage (1 for the lead stage); NULL when that is 0.';
COMMENT ON COLUMN v_funnel.conversion_from_first IS 'count / leads of the month; NULL when there are none.';


CREATE VIEW v_win_rate AS
WITH g AS (
    SELECT f.owner,
           count(CASE WHEN f.state = 'won' THEN 1 END)                        AS won,
           count(CASE WHEN f.state = 'lost' THEN 1 END)                       AS lost,
           count(CASE WHEN f.state = 'open' THEN 1 END)                       AS open,
           coalesce(sum(CASE WHEN f.state = 'won' THEN f.actual_value END), 0) AS won_value
    FROM v_opportunity_facts f
    GROUP BY f.owner
)
SELECT owner,
       CAST(won AS BIGINT)                                  AS won,
       CAST(lost AS BIGINT)                                 AS lost,
       CAST(open AS BIGINT)                                 AS open,
       CAST(won AS DOUBLE) / NULLIF(won + lost, 0)          AS win_rate,
       CAST(won_value AS DOUBLE)                            AS won_value,
       CAST(won AS DOUBLE) / NULLIF(won + lost + open, 0)   AS win_rate_all
FROM g
ORDER BY owner NULLS LAST;

COMMENT ON VIEW v_win_rate IS
    'Win rate of opportunities by owner, all time: sp.metrics.win_rate(db, by="owner").';
COMMENT ON COLUMN v_win_rate.owner IS 'The opportunity owner.';
COMMENT ON COLUMN v_win_rate.won IS 'Opportunities won.';
COMMENT ON COLUMN v_win_rate.lost IS 'Opportunities lost.';
COMMENT ON COLUMN v_win_rate.open IS 'Opportunities still open.';
COMMENT ON COLUMN v_win_rate.win_rate IS 'won / (won + lost); NULL when nothing is closed.';
COMMENT ON COLUMN v_win_rate.won_value IS 'Sum of the actual value of the won opportunities.';
COMMENT ON COLUMN v_win_rate.win_rate_all IS 'won / (won + lost + open); NULL when there are no opportunities.';


CREATE VIEW v_pipeline AS
SELECT p.phase,
       CAST(p.phase_order AS BIGINT)                        AS phase_order,
       count(f.opportunity_id)                              AS "count",
       CAST(coalesce(sum(f.estimated_value), 0) AS DOUBLE)  AS value,
       CAST(coalesce(sum(f.weighted_value), 0) AS DOUBLE)   AS weighted_value
FROM (VALUES ('qualify', 1), ('develop', 2), ('propose', 3)) AS p(phase, phase_order)
LEFT JOIN v_opportunity_facts f ON f.phase = p.phase
GROUP BY p.phase, p.phase_order
ORDER BY p.phase_order;

COMMENT ON VIEW v_pipeline IS
    'The open pipeline now by phase: sp.metrics.pipeline(db).';
COMMENT ON COLUMN v_pipeline.phase IS 'qualify (no open quote), develop (a draft quote, no active one) or propose (an active quote).';
COMMENT ON COLUMN v_pipeline.phase_order IS 'Position of the phase, 1 (qualify) to 3 (propose).';
COMMENT ON COLUMN v_pipeline."count" IS 'Open opportunities in the phase.';
COMMENT ON COLUMN v_pipeline.value IS 'Sum of their estimated value.';
COMMENT ON COLUMN v_pipeline.weighted_value IS 'Sum of estimated value x probability / 100.';
