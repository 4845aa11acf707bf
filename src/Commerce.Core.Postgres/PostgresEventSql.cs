namespace Commerce.Postgres;

/// <summary>The SQL text of the event log for one schema, built once (see <see cref="PostgresEventStore"/>).</summary>
internal sealed class PostgresEventSql(string s, string schema)
{
    /// <summary>
    /// The notification channel of the schema's commits with events. A channel name has at most 63 bytes, so
    /// a long schema name is cut: schemas that then share a channel only wake each other's waiters, who
    /// check and wait again.
    /// </summary>
    public string Channel { get; } = ChannelOf(schema);

    /// <summary>
    /// Appends $2 events to stripe $1 in one statement: the stripe's counter is incremented by $2 (the row is
    /// inserted at the first), and the events ($3 kinds, $4 and $5 instants, $6 payloads, in order) get the
    /// numbers after the counter's previous value. The counter's row lock, held until the commit ends, orders
    /// the stripe's commits; checks that every event was inserted. The schema's waiters are woken after the
    /// commit, by <see cref="Notify"/> in a transaction of its own (see <see cref="PostgresEventNotifier"/>).
    /// </summary>
    public string Append { get; } =
        $"""
        WITH c AS (
            INSERT INTO {s}.event_stripes AS t (stripe, last_seq) VALUES ($1, $2)
            ON CONFLICT (stripe) DO UPDATE SET last_seq = t.last_seq + EXCLUDED.last_seq
            RETURNING last_seq
        ), e AS (
            INSERT INTO {s}.events (stripe, seq, kind, at, at_tick, payload)
            SELECT $1, c.last_seq - $2 + x.n, x.kind, x.at, x.at_tick, x.payload::jsonb
            FROM c CROSS JOIN unnest($3::smallint[], $4::timestamptz[], $5::smallint[], $6::text[]) WITH ORDINALITY AS x(kind, at, at_tick, payload, n)
            RETURNING 1
        )
        SELECT {s}.expect_rows((SELECT count(*) FROM e), $2)
        """;

    /// <summary>Wakes the schema's waiters (<see cref="Channel"/>), when the statement's own transaction commits.</summary>
    public string Notify { get; } = $"SELECT pg_notify('{ChannelOf(schema)}', '')";

    /// <summary>Starts listening on <see cref="Channel"/>.</summary>
    public string Listen { get; } = $"LISTEN \"{ChannelOf(schema)}\"";

    /// <summary>
    /// A page of events after a cursor ($1 stripes, $2 the last number read in each), at most $3, in the
    /// feed's merge order. A stripe's events are merged in order, so an event comes out when the latest
    /// instant among it and the stripe's events before it is the oldest left: the page is ordered by that
    /// running maximum (then by stripe and number). Each stripe contributes at most $3 rows to the merge.
    /// </summary>
    public string Read { get; } =
        $"""
        SELECT stripe, seq, kind, at, at_tick, payload::text FROM (
            SELECT e.*, max(e.t) OVER (PARTITION BY e.stripe ORDER BY e.seq) AS m
            FROM unnest($1::smallint[], $2::bigint[]) AS c(stripe, after)
            CROSS JOIN LATERAL (
                SELECT f.stripe, f.seq, f.kind, f.at, f.at_tick, f.payload,
                    (extract(epoch FROM f.at) * 10000000)::numeric + f.at_tick AS t
                FROM {s}.events f WHERE f.stripe = c.stripe AND f.seq > c.after
                ORDER BY f.seq LIMIT $3
            ) e
        ) x
        ORDER BY m, stripe, seq
        LIMIT $3
        """;

    /// <summary>
    /// The first stripe of the cursor ($1 stripes, $2 the last number read in each) that covers more events than
    /// the stripe's counter ever numbered: its stripe, its number in the cursor, and the counter (no row, none).
    /// </summary>
    public string Ahead { get; } =
        $"""
        SELECT c.stripe, c.after, coalesce(t.last_seq, 0)
        FROM unnest($1::smallint[], $2::bigint[]) AS c(stripe, after)
        LEFT JOIN {s}.event_stripes t ON t.stripe = c.stripe
        WHERE c.after > coalesce(t.last_seq, 0)
        ORDER BY c.stripe
        LIMIT 1
        """;

    /// <summary>Whether an event lies after the cursor ($1 stripes, $2 the last number read in each).</summary>
    public string Exists { get; } =
        $"""
        SELECT EXISTS (
            SELECT 1 FROM unnest($1::smallint[], $2::bigint[]) AS c(stripe, after)
            WHERE EXISTS (SELECT 1 FROM {s}.events f WHERE f.stripe = c.stripe AND f.seq > c.after)
        )
        """;

    /// <summary>The checkpoint of consumer $1.</summary>
    public string LoadCheckpoint { get; } = $"SELECT cursor FROM {s}.event_checkpoints WHERE consumer = $1";

    /// <summary>Saves the checkpoint $2 of consumer $1.</summary>
    public string SaveCheckpoint { get; } =
        $"""
        INSERT INTO {s}.event_checkpoints (consumer, cursor, updated_at) VALUES ($1, $2, now())
        ON CONFLICT (consumer) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = EXCLUDED.updated_at
        """;

    /// <summary>
    /// Removes, in each stripe $1 with its bound $2, the events numbered up to the bound and before the
    /// first event of the stripe (up to the bound) at or after the instant ($3 microseconds, $4 ticks): a
    /// prefix. Returns how many went.
    /// </summary>
    public string Purge { get; } =
        $"""
        WITH c AS (
            SELECT stripe, up_to FROM unnest($1::smallint[], $2::bigint[]) AS c(stripe, up_to) WHERE up_to > 0
        ), b AS (
            SELECT c.stripe, least(c.up_to, coalesce((
                SELECT min(f.seq) - 1 FROM {s}.events f
                WHERE f.stripe = c.stripe AND f.seq <= c.up_to AND (f.at, f.at_tick) >= ($3, $4)), c.up_to)) AS last
            FROM c
        ), d AS (
            DELETE FROM {s}.events e USING b WHERE e.stripe = b.stripe AND e.seq <= b.last RETURNING 1
        )
        SELECT count(*) FROM d
        """;

    private static string ChannelOf(string schema)
    {
        var name = "commerce_events." + schema; // The schema name is lower-case letters, digits and underscores.
        return name.Length > 63 ? name[..63] : name;
    }
}
