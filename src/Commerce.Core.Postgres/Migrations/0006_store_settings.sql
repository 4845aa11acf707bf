-- Settings the stored data depends on. "{schema}" is replaced by the configured schema name (already quoted).
-- Runs in place on a database created at any earlier version, in the migrator's transaction.
--
-- ranking_resolution_ticks: the width of the ranking's buckets (CommerceOptions.RankingResolution, in 100 ns
-- ticks). The sales table keeps each bucket's units at the bucket's start, so a store's resolution must not
-- change: under another, the ranking would misread the rows and a cancel would look for an order's units in a
-- bucket that has none. The migrator records the resolution of the first instance that migrates the schema and
-- refuses to migrate for an instance configured with another one.
CREATE TABLE {schema}.store_settings (
    name  text   PRIMARY KEY,
    value bigint NOT NULL
);
