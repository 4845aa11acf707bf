-- Wallet ledgers, idempotency records and order cancellation. "{schema}" is replaced by the configured
-- schema name (already quoted). Runs in place on a database created at 0001, in the migrator's transaction.

-- How many ledger entries each wallet has (the sequence number of its last one).
ALTER TABLE {schema}.wallets
    ADD COLUMN ledger_length bigint NOT NULL DEFAULT 0 CHECK (ledger_length >= 0);

-- One row per ledger entry, written once, in the same commit as the balance change it records.
-- at_tick keeps the 100 ns ticks below PostgreSQL's microsecond, as orders.placed_at_tick does.
-- kind: 0 charge, 1 payment, 2 refund (LedgerEntryKind); order_id names the order paid or refunded. A free
-- order's payment moves nothing (amount 0), so that every order has its payment entry.
CREATE TABLE {schema}.ledger (
    user_id       bigint      NOT NULL,
    seq           bigint      NOT NULL CHECK (seq >= 1),
    kind          smallint    NOT NULL CHECK (kind BETWEEN 0 AND 2),
    amount        bigint      NOT NULL CHECK (amount >= 0),
    balance_after bigint      NOT NULL CHECK (balance_after >= 0),
    order_id      uuid        NULL,
    at            timestamptz NOT NULL,
    at_tick       smallint    NOT NULL DEFAULT 0 CHECK (at_tick BETWEEN 0 AND 9),
    PRIMARY KEY (user_id, seq)
);

-- Wallets funded before ledgers existed get an opening entry: a charge of their balance, so that every
-- wallet's balance is the sum of its charges and refunds minus its payments, and its last entry's
-- balance_after is its balance. The wallet's version moves with its new ledger_length.
INSERT INTO {schema}.ledger (user_id, seq, kind, amount, balance_after, order_id, at, at_tick)
SELECT user_id, 1, 0, balance, balance, NULL, now(), 0
FROM {schema}.wallets
WHERE balance > 0;

UPDATE {schema}.wallets SET ledger_length = 1, version = version + 1 WHERE balance > 0;

-- The outcome of the first request made with an idempotency key, keyed by user and a 64-bit digest of
-- the operation and the key (the key itself is kept, to recognise a digest collision). created_at_tick
-- as above. A refusal keeps its error (code, message, products); a success its balance or order.
-- operation: 1 charge, 2 place order, 3 checkout (IdempotentOperation).
CREATE TABLE {schema}.idempotency (
    user_id         bigint      NOT NULL,
    digest          bigint      NOT NULL,
    operation       smallint    NOT NULL CHECK (operation BETWEEN 1 AND 3),
    key             text        NOT NULL,
    request_hash    bigint      NOT NULL,
    created_at      timestamptz NOT NULL,
    created_at_tick smallint    NOT NULL DEFAULT 0 CHECK (created_at_tick BETWEEN 0 AND 9),
    error_code      integer     NULL,
    error_message   text        NULL,
    error_products  bigint[]    NULL,
    balance         bigint      NOT NULL CHECK (balance >= 0),
    order_id        uuid        NULL,
    version         bigint      NOT NULL,
    PRIMARY KEY (user_id, digest),
    CHECK ((error_code IS NULL) = (error_message IS NULL) AND (error_code IS NULL) = (error_products IS NULL))
);

-- Serves the purge of expired records (DELETE ... WHERE created_at < $1).
CREATE INDEX idempotency_created_at_idx ON {schema}.idempotency (created_at);

-- Orders are no longer immutable: a cancellation sets cancelled_at (with its ticks below the
-- microsecond), under a row version like every other mutable row. Existing orders stand, at version 1.
ALTER TABLE {schema}.orders
    ADD COLUMN cancelled_at      timestamptz NULL,
    ADD COLUMN cancelled_at_tick smallint    NULL CHECK (cancelled_at_tick BETWEEN 0 AND 9),
    ADD COLUMN version           bigint      NOT NULL DEFAULT 1,
    ADD CONSTRAINT orders_cancelled_check CHECK ((cancelled_at IS NULL) = (cancelled_at_tick IS NULL));

-- A cancellation takes its units back out of their sales bucket, which may leave a row at zero (the
-- ranking counts positive totals only).
ALTER TABLE {schema}.sales
    DROP CONSTRAINT sales_quantity_check,
    ADD CONSTRAINT sales_quantity_check CHECK (quantity >= 0);
