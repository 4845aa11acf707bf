-- The event log (a transactional outbox) and its consumers' checkpoints. "{schema}" is replaced by the
-- configured schema name (already quoted). Runs in place on a database created at 0001 to 0003, in the
-- migrator's transaction; a database upgraded so has no events before the upgrade.
--
-- Events are kept in stripes (a stream's always in one). A commit that publishes events increments the
-- counter row of each stripe it touches and inserts its events with the numbers that gave, in the same
-- transaction: the row lock, held until the commit ends, makes the numbers of a stripe follow commit
-- order without gaps (a commit that rolls back rolls its increment back too).
CREATE TABLE {schema}.event_stripes (
    stripe   smallint PRIMARY KEY CHECK (stripe >= 0),
    last_seq bigint   NOT NULL CHECK (last_seq > 0)
);

-- One row per event: its kind (1 order placed, 2 order cancelled, 3 wallet charged, 4 product added,
-- 5 product restocked, 6 stock depleted), the instant it reports (at_tick keeps the 100 ns ticks below
-- PostgreSQL's microsecond, as orders do) and the rest of its fields as a JSON object.
CREATE TABLE {schema}.events (
    stripe  smallint    NOT NULL,
    seq     bigint      NOT NULL CHECK (seq > 0),
    kind    smallint    NOT NULL,
    at      timestamptz NOT NULL,
    at_tick smallint    NOT NULL DEFAULT 0 CHECK (at_tick BETWEEN 0 AND 9),
    payload jsonb       NOT NULL,
    PRIMARY KEY (stripe, seq)
);

-- The last events each consumer has handled, as an event cursor's text ("3:5,17:2").
CREATE TABLE {schema}.event_checkpoints (
    consumer   text        PRIMARY KEY,
    cursor     text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
