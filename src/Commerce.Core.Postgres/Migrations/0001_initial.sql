-- The initial schema. "{schema}" is replaced by the configured schema name (already quoted).

CREATE TABLE {schema}.wallets (
    user_id bigint PRIMARY KEY,
    balance bigint NOT NULL CHECK (balance >= 0),
    version bigint NOT NULL
);

CREATE TABLE {schema}.products (
    id      bigint PRIMARY KEY,
    name    text   NOT NULL,
    price   bigint NOT NULL CHECK (price >= 0),
    version bigint NOT NULL
);

CREATE TABLE {schema}.stock (
    product_id bigint  PRIMARY KEY REFERENCES {schema}.products (id),
    on_hand    integer NOT NULL CHECK (on_hand >= 0),
    version    bigint  NOT NULL
);

-- A cart's lines as a JSON array of [product id, quantity] pairs, in the cart's order.
CREATE TABLE {schema}.carts (
    user_id bigint PRIMARY KEY,
    lines   jsonb  NOT NULL,
    version bigint NOT NULL
);

-- Orders are immutable. placed_at_tick keeps the 100 ns ticks below PostgreSQL's microsecond, so an
-- order reads back exactly as it was placed.
CREATE TABLE {schema}.orders (
    id             uuid        PRIMARY KEY,
    user_id        bigint      NOT NULL,
    total          bigint      NOT NULL CHECK (total >= 0),
    placed_at      timestamptz NOT NULL,
    placed_at_tick smallint    NOT NULL DEFAULT 0 CHECK (placed_at_tick BETWEEN 0 AND 9)
);

CREATE INDEX orders_placed_at_idx ON {schema}.orders (placed_at);
CREATE INDEX orders_user_id_idx ON {schema}.orders (user_id);

CREATE TABLE {schema}.order_lines (
    order_id   uuid    NOT NULL REFERENCES {schema}.orders (id),
    line_no    integer NOT NULL,
    product_id bigint  NOT NULL REFERENCES {schema}.products (id),
    quantity   integer NOT NULL CHECK (quantity > 0),
    unit_price bigint  NOT NULL CHECK (unit_price >= 0),
    line_total bigint  NOT NULL CHECK (line_total >= 0),
    PRIMARY KEY (order_id, line_no)
);

-- Units sold per product per ranking bucket (the bucket's first instant). An order adds to the rows of
-- its own products in its own bucket, so it contends only with orders of the same product in the same
-- bucket, which already contend on that product's stock row.
CREATE TABLE {schema}.sales (
    bucket_start timestamptz NOT NULL,
    product_id   bigint      NOT NULL REFERENCES {schema}.products (id),
    quantity     bigint      NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (bucket_start, product_id)
);

-- Raised by a commit statement whose row count shows a stale read; the whole commit then rolls back.
CREATE FUNCTION {schema}.expect_rows(actual bigint, expected bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF actual <> expected THEN
        RAISE EXCEPTION 'Commerce commit conflict: % row(s) matched, % expected', actual, expected
            USING ERRCODE = 'CM409';
    END IF;
    RETURN true;
END
$$;
