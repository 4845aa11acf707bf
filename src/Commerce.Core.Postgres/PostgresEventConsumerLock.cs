using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Commerce.Events;
using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// An event consumer's lock on the PostgreSQL store: a session-level advisory lock (<c>pg_try_advisory_lock</c>) held by
/// a connection of its own for as long as the lock is, through which the consumer's checkpoint is saved. The server
/// releases the lock when that session ends, so a host instance that dies (or whose connection breaks) frees its
/// consumers for another; its saves then fail with <see cref="EventConsumerLockLostException"/>, since a checkpoint
/// written on a new connection might overwrite a newer one of the lock's next holder.
/// </summary>
/// <remarks>
/// The lock's session asks the server for TCP keepalives (<see cref="KeepaliveIdle"/>), so that a host that vanished
/// without closing its connection frees its consumers within about a minute rather than when the operating system
/// gives up on the connection (two hours by default).
/// The lock's key is 64 bits of the SHA-256 of the store's schema and the consumer's name, so stores in different
/// schemas of one database do not hold each other's consumers (a lock of another application's on the same key would
/// hold the consumer too; at 64 bits, that takes a deliberate choice).
/// </remarks>
internal sealed class PostgresEventConsumerLock : IEventConsumerLock
{
    private const string Operation = "a checkpoint saved under its consumer's lock";

    private readonly PostgresCommerceStore _store;
    private readonly NpgsqlConnection _connection;
    private bool _lost;
    private int _disposed;

    private PostgresEventConsumerLock(PostgresCommerceStore store, NpgsqlConnection connection, string consumer)
    {
        _store = store;
        _connection = connection;
        Consumer = consumer;
    }

    public string Consumer { get; }

    /// <summary>The connection that holds the lock (tests read its session's settings).</summary>
    internal NpgsqlConnection Connection => _connection;

    /// <summary>
    /// How long the server waits, in seconds, before it probes an idle lock connection's client (TCP keepalives, set
    /// for that session), how long between probes, and how many go unanswered before it drops the connection: a host
    /// whose machine went away without closing its connections (a power loss, a network cut) frees its consumers
    /// within about a minute, where the operating system's defaults would hold them for two hours.
    /// </summary>
    internal const int KeepaliveIdle = 30, KeepaliveInterval = 10, KeepaliveCount = 3;

    // The session's keepalives, then the lock (last: a failure before it takes nothing).
    private static readonly string TakeSql = string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"SELECT set_config('tcp_keepalives_idle', '{KeepaliveIdle}', false), set_config('tcp_keepalives_interval', '{KeepaliveInterval}', false), " +
        $"set_config('tcp_keepalives_count', '{KeepaliveCount}', false), pg_try_advisory_lock($1)");

    /// <summary>The advisory lock key of <paramref name="consumer"/> in <paramref name="schema"/>.</summary>
    internal static long KeyOf(string schema, string consumer)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes("commerce event consumer\0" + schema + "\0" + consumer));
        return BinaryPrimitives.ReadInt64BigEndian(hash);
    }

    /// <summary>Takes the lock of <paramref name="consumer"/> on a connection of its own, or returns <see langword="null"/> if another session holds it.</summary>
    internal static async ValueTask<IEventConsumerLock?> TryTakeAsync(PostgresCommerceStore store, string consumer, CancellationToken cancellationToken)
    {
        CheckpointNames.ThrowIfNotKeepable(consumer);
        cancellationToken.ThrowIfCancellationRequested();
        store.ThrowIfDisposed();
        var key = KeyOf(store.Schema, consumer);
        var connection = await store.OpenConnectionAsync("a lock of an event consumer", cancellationToken).ConfigureAwait(false);
        try
        {
            var command = store.Command(connection, TakeSql);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = key });
                store.CountRoundTrip();
                // Not cancelled by the caller's token: the statement never waits (a lock held elsewhere is false at
                // once), and a cancellation that came after the server took the lock would leave it to a connection
                // back in the pool. The command timeout bounds it; a broken connection is closed, which releases it.
                bool taken;
                try
                {
                    var reader = await command.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        taken = await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false) && reader.GetBoolean(3);
                    }
                }
                catch (Exception)
                {
                    // A session lock survives its statement's failure: none is left on a connection back in the pool.
                    await ReleaseOrDiscardAsync(store, connection).ConfigureAwait(false);
                    throw;
                }

                if (!taken)
                {
                    return null;
                }
            }

            var held = new PostgresEventConsumerLock(store, connection, consumer);
            connection = null;
            return held;
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    public async ValueTask SaveCheckpointAsync(EventCursor cursor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cursor);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (_lost || _connection.FullState.HasFlag(System.Data.ConnectionState.Broken) || _connection.State != System.Data.ConnectionState.Open)
        {
            _lost = true;
            throw LostException(null);
        }

        try
        {
            var batch = _store.WriteBatch(_connection);
            await using (batch.ConfigureAwait(false))
            {
                batch.Add(_store.Events.SaveCheckpoint).With(Consumer).With(cursor.ToString());
                _store.CountRoundTrip();
                await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (_connection.State != System.Data.ConnectionState.Open)
        {
            // The session that held the lock is gone, and the server released the lock with it.
            _lost = true;
            throw LostException(e);
        }
        catch (Exception e) when (PostgresOutcome.Cancelled(Operation, e, _connection) is { } cancelled)
        {
            throw cancelled;
        }
    }

    /// <summary>Releases the lock and gives the connection back (see <see cref="ReleaseOrDiscardAsync"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            if (!_lost)
            {
                await ReleaseOrDiscardAsync(_store, _connection).ConfigureAwait(false);
            }
        }
        finally
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Releases the session locks of <paramref name="connection"/> (a connection of the store holds none but a consumer's
    /// lock) before it goes back to the pool. If that fails while the connection stays open, the pool is cleared, which
    /// closes the connection rather than pooling it with a lock; a broken or closed one took its locks with its session.
    /// </summary>
    private static async Task ReleaseOrDiscardAsync(PostgresCommerceStore store, NpgsqlConnection connection)
    {
        if (connection.State != System.Data.ConnectionState.Open)
        {
            return;
        }

        try
        {
            var command = store.Command(connection, "SELECT pg_advisory_unlock_all()");
            await using (command.ConfigureAwait(false))
            {
                store.CountRoundTrip();
                await command.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception) when (connection.State == System.Data.ConnectionState.Open)
        {
            NpgsqlConnection.ClearPool(connection);
        }
        catch (Exception)
        {
            // Broken or closed meanwhile: the session is gone, and its locks with it.
        }
    }

    private EventConsumerLockLostException LostException(Exception? cause)
    {
        var message = $"The lock of event consumer '{Consumer}' was lost with the connection that held it; nothing was saved.";
        return cause is null ? new EventConsumerLockLostException(message) : new EventConsumerLockLostException(message, cause);
    }
}
