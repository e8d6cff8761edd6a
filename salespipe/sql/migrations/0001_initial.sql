-- salespipe schema, version 1: the sales process of Dynamics 365 as plain tables.
-- Every lifecycle record stores its state and status (lower-case names from
-- salespipe/machine.py); every change of them appends a row to `events`.
-- Money is DECIMAL(18,2); timestamps are UTC.


-- Normalized keys used to match existing accounts and contacts on qualification.
-- Company: case, punctuation, whitespace and trailing legal suffixes are ignored.
CREATE MACRO company_key(name) AS nullif(trim(regexp_replace(
    regexp_replace(lower(name), '[[:punct:][:space:]]+', ' ', 'g'),
    '( (inc|incorporated|ltd|limited|llc|llp|lp|gmbh|ag|corp|corporation|co|company|plc|sa|sas|sarl|bv|nv|srl|spa|pty|oy|ab|as|kg))+ ?$',
    '', 'g')), '');
CREATE MACRO email_key(email) AS nullif(lower(trim(email)), '');

CREATE TABLE leads (
    lead_id          BIGINT PRIMARY KEY,
    first_name       VARCHAR,
    last_name        VARCHAR,
    email            VARCHAR,
    phone            VARCHAR,
    job_title        VARCHAR,
    company          VARCHAR,
    topic            VARCHAR,
    source           VARCHAR,
    owner            VARCHAR,
    estimated_value  DECIMAL(18,2),
    created_at       TIMESTAMP NOT NULL,
    state            VARCHAR NOT NULL,
    status           VARCHAR NOT NULL,
    closed_at        TIMESTAMP,          -- qualified or disqualified at
    account_id       BIGINT,             -- what qualification produced or matched
    contact_id       BIGINT,
    opportunity_id   BIGINT
);

CREATE TABLE accounts (
    account_id       BIGINT PRIMARY KEY,
    name             VARCHAR NOT NULL,
    name_key         VARCHAR NOT NULL,   -- company_key(name)
    created_at       TIMESTAMP NOT NULL,
    lead_id          BIGINT              -- the lead it was created from
);

CREATE TABLE contacts (
    contact_id       BIGINT PRIMARY KEY,
    account_id       BIGINT,
    first_name       VARCHAR,
    last_name        VARCHAR,
    email            VARCHAR,
    email_key        VARCHAR,            -- email_key(email)
    phone            VARCHAR,
    job_title        VARCHAR,
    created_at       TIMESTAMP NOT NULL,
    lead_id          BIGINT
);

CREATE TABLE price_lists (
    price_list_id    BIGINT PRIMARY KEY,
    name             VARCHAR NOT NULL UNIQUE,
    currency         VARCHAR NOT NULL DEFAULT 'USD',
    is_default       BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE products (
    sku              VARCHAR PRIMARY KEY,
    name             VARCHAR NOT NULL,
    created_at       TIMESTAMP NOT NULL
);

CREATE TABLE price_list_items (
    price_list_id    BIGINT NOT NULL,
    sku              VARCHAR NOT NULL,
    unit_price       DECIMAL(18,2) NOT NULL,
    PRIMARY KEY (price_list_id, sku)
);

CREATE TABLE opportunities (
    opportunity_id   BIGINT PRIMARY KEY,
    lead_id          BIGINT,
    account_id       BIGINT,
    contact_id       BIGINT,
    topic            VARCHAR,
    owner            VARCHAR,
    source           VARCHAR,
    estimated_value  DECIMAL(18,2),
    probability      INTEGER NOT NULL,
    actual_value     DECIMAL(18,2),
    price_list_id    BIGINT NOT NULL,
    competitor       VARCHAR,
    created_at       TIMESTAMP NOT NULL,
    closed_at        TIMESTAMP,
    state            VARCHAR NOT NULL,
    status           VARCHAR NOT NULL
);

CREATE TABLE quotes (
    quote_id         BIGINT PRIMARY KEY,
    quote_number     VARCHAR NOT NULL,
    revision         INTEGER NOT NULL,
    opportunity_id   BIGINT NOT NULL,
    price_list_id    BIGINT NOT NULL,
    discount_pct     DECIMAL(9,4) NOT NULL DEFAULT 0,
    discount_amount  DECIMAL(18,2) NOT NULL DEFAULT 0,
    freight          DECIMAL(18,2) NOT NULL DEFAULT 0,
    previous_quote_id BIGINT,            -- the revision this one was revised from
    created_at       TIMESTAMP NOT NULL,
    activated_at     TIMESTAMP,
    closed_at        TIMESTAMP,
    state            VARCHAR NOT NULL,
    status           VARCHAR NOT NULL,
    UNIQUE (quote_number, revision)
);

CREATE TABLE quote_lines (
    quote_line_id    BIGINT PRIMARY KEY,
    quote_id         BIGINT NOT NULL,
    line_no          INTEGER NOT NULL,
    sku              VARCHAR NOT NULL,
    quantity         DECIMAL(18,4) NOT NULL,
    unit_price       DECIMAL(18,2) NOT NULL,
    discount         DECIMAL(18,2) NOT NULL DEFAULT 0,
    tax              DECIMAL(18,2) NOT NULL DEFAULT 0
);

CREATE TABLE orders (
    order_id         BIGINT PRIMARY KEY,
    quote_id         BIGINT NOT NULL,
    opportunity_id   BIGINT NOT NULL,
    price_list_id    BIGINT NOT NULL,
    discount_pct     DECIMAL(9,4) NOT NULL,
    discount_amount  DECIMAL(18,2) NOT NULL,
    freight          DECIMAL(18,2) NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    closed_at        TIMESTAMP,          -- fulfilled or canceled at
    state            VARCHAR NOT NULL,
    status           VARCHAR NOT NULL
);

CREATE TABLE order_lines (
    order_line_id    BIGINT PRIMARY KEY,
    order_id         BIGINT NOT NULL,
    quote_line_id    BIGINT,
    line_no          INTEGER NOT NULL,
    sku              VARCHAR NOT NULL,
    quantity         DECIMAL(18,4) NOT NULL,
    unit_price       DECIMAL(18,2) NOT NULL,
    discount         DECIMAL(18,2) NOT NULL,
    tax              DECIMAL(18,2) NOT NULL
);

CREATE TABLE invoices (
    invoice_id       BIGINT PRIMARY KEY,
    order_id         BIGINT NOT NULL,
    opportunity_id   BIGINT NOT NULL,
    discount_pct     DECIMAL(9,4) NOT NULL,
    discount_amount  DECIMAL(18,2) NOT NULL,
    freight          DECIMAL(18,2) NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    closed_at        TIMESTAMP,          -- paid or canceled at
    state            VARCHAR NOT NULL,
    status           VARCHAR NOT NULL
);

CREATE TABLE invoice_lines (
    invoice_line_id  BIGINT PRIMARY KEY,
    invoice_id       BIGINT NOT NULL,
    order_line_id    BIGINT,
    line_no          INTEGER NOT NULL,
    sku              VARCHAR NOT NULL,
    quantity         DECIMAL(18,4) NOT NULL,
    unit_price       DECIMAL(18,2) NOT NULL,
    discount         DECIMAL(18,2) NOT NULL,
    tax              DECIMAL(18,2) NOT NULL
);

CREATE TABLE payments (
    payment_id       BIGINT PRIMARY KEY,
    invoice_id       BIGINT NOT NULL,
    amount           DECIMAL(18,2) NOT NULL,
    paid_at          TIMESTAMP NOT NULL,
    note             VARCHAR
);

-- One row per state change of any record, creation included (from_state NULL).
CREATE TABLE events (
    event_id         BIGINT PRIMARY KEY,
    entity           VARCHAR NOT NULL,   -- lead, opportunity, quote, order, invoice
    entity_id        BIGINT NOT NULL,
    action           VARCHAR NOT NULL,
    from_state       VARCHAR,
    from_status      VARCHAR,
    to_state         VARCHAR NOT NULL,
    to_status        VARCHAR NOT NULL,
    "at"             TIMESTAMP NOT NULL,  -- a reserved word in DuckDB 2: write e.at or "at"
    actor            VARCHAR,
    note             VARCHAR
);

INSERT INTO price_lists (price_list_id, name, currency, is_default)
VALUES (1, 'Default', 'USD', true);

-- Amounts of every document line, rounded half-up to cents per line (DESIGN.md, Totals).
CREATE VIEW v_quote_lines AS
SELECT l.*,
       round(l.quantity * l.unit_price, 2)                         AS base,
       round(l.quantity * l.unit_price, 2) - l.discount            AS amount,
       round(l.quantity * l.unit_price, 2) - l.discount + l.tax    AS extended
FROM quote_lines l;

CREATE VIEW v_order_lines AS
SELECT l.*,
       round(l.quantity * l.unit_price, 2)                         AS base,
       round(l.quantity * l.unit_price, 2) - l.discount            AS amount,
       round(l.quantity * l.unit_price, 2) - l.discount + l.tax    AS extended
FROM order_lines l;

CREATE VIEW v_invoice_lines AS
SELECT l.*,
       round(l.quantity * l.unit_price, 2)                         AS base,
       round(l.quantity * l.unit_price, 2) - l.discount            AS amount,
       round(l.quantity * l.unit_price, 2) - l.discount + l.tax    AS extended
FROM invoice_lines l;

-- Document totals: detail = sum of line amounts; discount = detail x pct / 100 + amount;
-- pre_freight = detail - discount; total = pre_freight + freight + sum of line tax.
-- (x * pct * 0.01, not x * pct / 100: dividing a DECIMAL yields a DOUBLE and loses the half-up cent.)
CREATE VIEW v_quote_totals AS
WITH s AS (
    SELECT h.quote_id, h.discount_pct, h.discount_amount, h.freight,
           coalesce(sum(l.amount), 0)::DECIMAL(18,2) AS detail,
           coalesce(sum(l.tax), 0)::DECIMAL(18,2)    AS tax
    FROM quotes h LEFT JOIN v_quote_lines l ON l.quote_id = h.quote_id
    GROUP BY 1, 2, 3, 4
), d AS (
    SELECT *, (round(detail::DECIMAL(38,2) * discount_pct * 0.01, 2) + discount_amount)::DECIMAL(18,2) AS discount FROM s
)
SELECT quote_id, detail, discount, (detail - discount)::DECIMAL(18,2) AS pre_freight, freight, tax,
       (detail - discount + freight + tax)::DECIMAL(18,2) AS total
FROM d;

CREATE VIEW v_order_totals AS
WITH s AS (
    SELECT h.order_id, h.discount_pct, h.discount_amount, h.freight,
           coalesce(sum(l.amount), 0)::DECIMAL(18,2) AS detail,
           coalesce(sum(l.tax), 0)::DECIMAL(18,2)    AS tax
    FROM orders h LEFT JOIN v_order_lines l ON l.order_id = h.order_id
    GROUP BY 1, 2, 3, 4
), d AS (
    SELECT *, (round(detail::DECIMAL(38,2) * discount_pct * 0.01, 2) + discount_amount)::DECIMAL(18,2) AS discount FROM s
)
SELECT order_id, detail, discount, (detail - discount)::DECIMAL(18,2) AS pre_freight, freight, tax,
       (detail - discount + freight + tax)::DECIMAL(18,2) AS total
FROM d;

CREATE VIEW v_invoice_totals AS
WITH s AS (
    SELECT h.invoice_id, h.discount_pct, h.discount_amount, h.freight,
           coalesce(sum(l.amount), 0)::DECIMAL(18,2) AS detail,
           coalesce(sum(l.tax), 0)::DECIMAL(18,2)    AS tax
    FROM invoices h LEFT JOIN v_invoice_lines l ON l.invoice_id = h.invoice_id
    GROUP BY 1, 2, 3, 4
), d AS (
    SELECT *, (round(detail::DECIMAL(38,2) * discount_pct * 0.01, 2) + discount_amount)::DECIMAL(18,2) AS discount FROM s
), p AS (
    SELECT invoice_id, sum(amount)::DECIMAL(18,2) AS paid FROM payments GROUP BY invoice_id
)
SELECT d.invoice_id, detail, discount, (detail - discount)::DECIMAL(18,2) AS pre_freight, freight, tax,
       (detail - discount + freight + tax)::DECIMAL(18,2) AS total,
       coalesce(p.paid, 0)::DECIMAL(18,2) AS paid,
       (detail - discount + freight + tax - coalesce(p.paid, 0))::DECIMAL(18,2) AS balance
FROM d LEFT JOIN p ON p.invoice_id = d.invoice_id;
