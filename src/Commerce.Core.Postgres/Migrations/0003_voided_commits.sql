-- Fences for commits whose connection was lost. "{schema}" is replaced by the configured schema name
-- (already quoted). Runs in place on a database created at 0001 or 0002, in the migrator's transaction.
--
-- When a connection fails with a commit in flight, the store looks the outcome up on a fresh connection.
-- If the network (not the server) failed, the commit's batch may still be on its way and reach the
-- server after that lookup. So a lookup that finds an order not placed also voids its id here, in the
-- same transaction, under the order's advisory lock; an order insert adds its row only while its id is
-- not voided, so a late batch rolls back instead of placing the order a second time. (A lookup that finds
-- a cancellation not applied fences it by moving the order's version on instead: no table needed.)
-- Rows are purged with expired idempotency records, a day after they were written: a batch cannot
-- outlive its TCP connection by that long.
CREATE TABLE {schema}.voided_orders (
    id        uuid        PRIMARY KEY,
    voided_at timestamptz NOT NULL DEFAULT now()
);
