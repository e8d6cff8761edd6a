-- own transaction
-- salespipe schema, version 12: indexes on the match keys `qualify` looks up one lead at a time
-- (contacts.email_key, accounts.name_key). Without them each lookup scanned the column: on a copy
-- of the 10M-lead demo the contact lookup alone took ~55 ms of a ~130 ms `leads.qualify`, and ~1 ms
-- with the index (bench/engine_bench.py --on ...). The lookups are aggregates (min, arg_min) over
-- the equality, which DuckDB answers from an index; an ORDER BY ... LIMIT 1 would scan. The bulk
-- paths join on the keys and do not need them. A later migration that drops or renames a column of
-- these two tables must drop the index first and create it again after: DuckDB refuses those
-- ALTER TABLEs on an indexed table (ADD COLUMN works).

CREATE INDEX contacts_email_key ON contacts (email_key);
CREATE INDEX accounts_name_key ON accounts (name_key);
