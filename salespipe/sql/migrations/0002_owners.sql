-- salespipe schema, version 2: the sales team. Each owner (the `owner` text of leads and
-- opportunities) works in a region, so metrics can filter and break down by region.
CREATE TABLE owners (
    owner            VARCHAR PRIMARY KEY,
    region           VARCHAR NOT NULL,
    created_at       TIMESTAMP NOT NULL
);
