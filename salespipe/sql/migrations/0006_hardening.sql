-- salespipe schema, version 6: company keys that read dotted legal suffixes and Unicode
-- punctuation like their plain forms, and the time of each record's last state change.

-- Company: accents, case, dots, punctuation, symbols and Unicode whitespace are ignored, and so are
-- trailing legal suffixes, dotted or not (the Unicode ranges are Latin-1 punctuation and symbols,
-- modifier apostrophes, General Punctuation with its spaces and zero-width marks, arrows and math
-- and box symbols, CJK and fullwidth punctuation: listed as ranges, since RE2's \p classes cost
-- ~1 ms to compile in every statement that uses the key): "Acme S.A.", "ACME SA" and "Acme, s.a." are one
-- account; "O’Brien Ltd" (curly apostrophe, or the modifier letter ʼ that autocorrect types) and
-- "O'Brien Ltd", "Acme Ltd" and "Acme<NBSP>Ltd" too.
CREATE OR REPLACE MACRO company_key(name) AS nullif(trim(regexp_replace(
    regexp_replace(replace(strip_accents(lower(name)), '.', ''), '[[:punct:][:space:]\x{00A0}-\x{00BF}\x{00D7}\x{00F7}\x{02B9}-\x{02BC}\x{2000}-\x{206F}\x{2190}-\x{23FF}\x{2500}-\x{27BF}\x{3000}-\x{303F}\x{FE30}-\x{FE4F}\x{FEFF}\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF20}\x{FF3B}-\x{FF40}\x{FF5B}-\x{FF65}]+', ' ', 'g'),
    '( (inc|incorporated|ltd|limited|llc|llp|lp|gmbh|ag|corp|corporation|co|company|plc|sa|sas|sarl|bv|nv|srl|spa|pty|oy|oyj|ab|as|asa|aps|kg|kgaa|ohg|ug|se|sl|sro|pte|pvt|bhd|sdn|ltda|sp z oo))+ ?$',
    '', 'g')), '');

-- Existing accounts get their key under the new rule (a key matches new leads; ids never change).
UPDATE accounts SET name_key = coalesce(company_key(name), name_key);

-- When each record's state last changed: the time of its newest event (NULL: never changed since
-- it was created, so created_at). A transition may not be dated before it (`at=` runs forward).
ALTER TABLE leads ADD COLUMN changed_at TIMESTAMP;
ALTER TABLE opportunities ADD COLUMN changed_at TIMESTAMP;
ALTER TABLE quotes ADD COLUMN changed_at TIMESTAMP;
ALTER TABLE orders ADD COLUMN changed_at TIMESTAMP;
ALTER TABLE invoices ADD COLUMN changed_at TIMESTAMP;

UPDATE leads SET changed_at = e.last_at
FROM (SELECT entity_id, max("at") AS last_at FROM events WHERE entity = 'lead' AND action <> 'create' GROUP BY 1) e
WHERE leads.lead_id = e.entity_id;
UPDATE opportunities SET changed_at = e.last_at
FROM (SELECT entity_id, max("at") AS last_at FROM events WHERE entity = 'opportunity' AND action <> 'create' GROUP BY 1) e
WHERE opportunities.opportunity_id = e.entity_id;
UPDATE quotes SET changed_at = e.last_at
FROM (SELECT entity_id, max("at") AS last_at FROM events WHERE entity = 'quote' AND action <> 'create' GROUP BY 1) e
WHERE quotes.quote_id = e.entity_id;
UPDATE orders SET changed_at = e.last_at
FROM (SELECT entity_id, max("at") AS last_at FROM events WHERE entity = 'order' AND action <> 'create' GROUP BY 1) e
WHERE orders.order_id = e.entity_id;
UPDATE invoices SET changed_at = e.last_at
FROM (SELECT entity_id, max("at") AS last_at FROM events WHERE entity = 'invoice' AND action <> 'create' GROUP BY 1) e
WHERE invoices.invoice_id = e.entity_id;
