-- salespipe schema, version 4: lead_stages, the funnel's fact table, kept current by the
-- transitions (salespipe/machine.py, STAGE_COLUMNS) in the same transaction as the change itself.
-- Rebuilding each lead's stage times from leads, opportunities, quotes and invoices on every
-- dashboard query joins ten million leads to their documents; this table makes the funnel one
-- scan. `salespipe doctor` checks that it equals the rebuild from the base tables.

CREATE TABLE lead_stages (
    lead_id          BIGINT PRIMARY KEY,
    opportunity_id   BIGINT,
    account_id       BIGINT,
    owner            VARCHAR,
    source           VARCHAR,
    state            VARCHAR NOT NULL,
    status           VARCHAR NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    qualified_at     TIMESTAMP,
    disqualified_at  TIMESTAMP,
    quoted_at        TIMESTAMP,
    won_at           TIMESTAMP,
    lost_at          TIMESTAMP,
    invoiced_at      TIMESTAMP,
    paid_at          TIMESTAMP
);

-- The rebuild from the base tables: what lead_stages must hold (doctor compares the two).
CREATE VIEW v_lead_stages_rebuilt AS
SELECT l.lead_id, l.opportunity_id, l.account_id, l.owner, l.source, l.state, l.status, l.created_at,
       CASE WHEN l.state = 'qualified' THEN l.closed_at END    AS qualified_at,
       CASE WHEN l.state = 'disqualified' THEN l.closed_at END AS disqualified_at,
       s.quoted_at, s.won_at, s.lost_at, s.invoiced_at, s.paid_at
FROM leads l
LEFT JOIN v_opportunity_stages s ON s.opportunity_id = l.opportunity_id;

COMMENT ON VIEW v_lead_stages_rebuilt IS
    'lead_stages computed from the base tables (slow at scale; salespipe doctor compares it with lead_stages).';

INSERT INTO lead_stages
SELECT lead_id, opportunity_id, account_id, owner, source, state, status, created_at, qualified_at,
       disqualified_at, quoted_at, won_at, lost_at, invoiced_at, paid_at
FROM v_lead_stages_rebuilt;

CREATE OR REPLACE VIEW v_lead_stages AS
SELECT s.lead_id, s.opportunity_id, s.account_id, s.owner, w.region, s.source, s.state, s.status, s.created_at,
       s.qualified_at, s.disqualified_at, s.quoted_at, s.won_at, s.lost_at, s.invoiced_at, s.paid_at
FROM lead_stages s
LEFT JOIN owners w ON w.owner = s.owner;

COMMENT ON VIEW v_lead_stages IS
    'One row per lead with the time it reached each funnel stage (NULL: not reached): lead, qualified, quoted, won, invoiced, paid. Reads the lead_stages table, which the transitions keep current; sp.metrics.funnel reads it.';
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
