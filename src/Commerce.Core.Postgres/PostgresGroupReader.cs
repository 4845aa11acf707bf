using System.Threading.Channels;
using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// Group reads: with group commit on, the key reads of concurrent units of work go to the server together,
/// as one statement over the union of their keys on one connection, instead of one statement per unit of
/// work on a connection of its own.
/// </summary>
/// <remarks>
/// <para>
/// A caller queues its keys; one reader loop per store takes every read waiting (up to the group size),
/// sends one key read (<see cref="PostgresReads.Keys(PostgresCommerceStore, NpgsqlConnection, List{StoreKey})"/>)
/// and hands each caller the states of its own keys. While a group is in flight the next one gathers, so a
/// group forms from whoever arrives during a round trip, with no timer. Every caller's reads come from the
/// one statement, so from one snapshot, as a read of its own would: what the unit of work then writes is
/// checked at commit as always.
/// </para>
/// <para>
/// A connection found broken is replaced once and the group read again (a read applies nothing); a refusal
/// for now (too many connections, a server shutting down), or a read the server cancelled on its own (at its
/// <c>statement_timeout</c> or <c>lock_timeout</c>) or at the command timeout, is <see cref="StoreUnavailableException"/> for every
/// caller of the group, and any other failure is handed to each of them. A caller whose token is
/// cancelled stops waiting (its read, if sent, is simply not used). The store's disposal stops taking new reads
/// (<see cref="Complete"/>) and lets the queued ones finish within its grace (<see cref="PostgresCommerceStore.ShutdownTimeout"/>),
/// then cancels what is left through <see cref="PostgresCommerceStore.Stopping"/>, which every read and connection of the
/// reader observes: its callers get <see cref="ObjectDisposedException"/>, as a read after the disposal does. Thread-safe.
/// </para>
/// </remarks>
internal sealed class PostgresGroupReader : IAsyncDisposable
{
    private readonly PostgresCommerceStore _store;
    private readonly int _maxGroupSize;
    private readonly Channel<Request> _queue = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;
    private NpgsqlConnection? _connection;
    private int _groupsSent;

    public PostgresGroupReader(PostgresCommerceStore store, int maxGroupSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxGroupSize, 1);
        _store = store;
        _maxGroupSize = maxGroupSize;
        // The loop serves every caller for the store's life: it must not keep the execution context (and so
        // the current span) of whoever built the store, or every group's Npgsql span would join that trace.
        _loop = DetachedTask.Run(RunAsync);
    }

    /// <summary>How many group reads were sent (a group read again on a fresh connection counts again).</summary>
    internal int GroupsSent => Volatile.Read(ref _groupsSent);

    /// <summary>A test seam: the server process of the reader's connection, if it holds one.</summary>
    internal int? ConnectionProcessId => Volatile.Read(ref _connection)?.ProcessID;

    /// <summary>
    /// Reads the keys of <paramref name="batch"/> in the next group: one state per key, in order (a null state
    /// where no row was), each with <paramref name="statement"/> as its handle.
    /// </summary>
    public async ValueTask<StoredState[]> ReadAsync(ReadBatch batch, object statement, CancellationToken cancellationToken)
    {
        var keys = new StoreKey[batch.Count];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = batch[i];
        }

        var request = new Request(keys, statement);
        if (!_queue.Writer.TryWrite(request))
        {
            throw PostgresCommerceStore.DisposedException();
        }

        using (cancellationToken.UnsafeRegister(static (state, token) => ((TaskCompletionSource<StoredState[]>)state!).TrySetCanceled(token), request.Outcome))
        {
            return await request.Outcome.Task.ConfigureAwait(false);
        }
    }

    /// <summary>Ends once the reader has stopped: after <see cref="Complete"/>, when every read queued has its outcome.</summary>
    public Task Completion => _loop;

    /// <summary>Stops taking reads (a new one is <see cref="ObjectDisposedException"/>); those queued still go.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    /// <summary>Stops taking reads and waits for those queued to have their outcomes (see <see cref="Completion"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        Complete();
        await _loop.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        var group = new List<Request>(_maxGroupSize);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (group.Count < _maxGroupSize && reader.TryRead(out var request))
            {
                if (!request.Outcome.Task.IsCompleted)
                {
                    group.Add(request); // else its caller gave up waiting
                }
            }

            if (group.Count > 0)
            {
                await ReadGroupAsync(group).ConfigureAwait(false);
                group.Clear();
            }
        }

        await DropConnectionAsync().ConfigureAwait(false);
    }

    private async Task ReadGroupAsync(List<Request> group)
    {
        var keys = new List<StoreKey>();
        var distinct = new HashSet<StoreKey>();
        foreach (var request in group)
        {
            foreach (var key in request.Keys)
            {
                if (distinct.Add(key))
                {
                    keys.Add(key);
                }
            }
        }

        for (var attempt = 1; ; attempt++)
        {
            NpgsqlConnection? connection = null;
            try
            {
                connection = await ConnectionAsync().ConfigureAwait(false);
                Dictionary<StoreKey, StoredState> found;
                var batch = PostgresReads.Keys(_store, connection, keys);
                await using (batch.ConfigureAwait(false))
                {
                    _store.CountRoundTrip();
                    Interlocked.Increment(ref _groupsSent);
                    var rows = await batch.ExecuteReaderAsync(_store.Stopping).ConfigureAwait(false);
                    await using (rows.ConfigureAwait(false))
                    {
                        found = await PostgresReads.GroupKeysFoundAsync(rows, group[0].Statement, _store.Stopping).ConfigureAwait(false);
                    }
                }

                foreach (var request in group)
                {
                    request.Outcome.TrySetResult(request.StatesIn(found));
                }

                return;
            }
            catch (OperationCanceledException) when (_store.Stopping.IsCancellationRequested)
            {
                // Cut off by the store's disposal: a read applies nothing.
                await DropConnectionAsync().ConfigureAwait(false);
                var refused = PostgresCommerceStore.DisposedException("before the group read completed.");
                foreach (var request in group)
                {
                    request.Outcome.TrySetException(refused);
                }

                return;
            }
            catch (NpgsqlException e) when (connection is not null && PostgresOutcome.IsCancelledAtTimeout(e, connection))
            {
                // Cancelled by the server at the command timeout, on a connection kept open: not a broken one,
                // and a group read again would wait as long again.
                var failure = PostgresOutcome.TimedOut("a read", e);
                foreach (var request in group)
                {
                    request.Outcome.TrySetException(failure);
                }

                return;
            }
            catch (Exception e) when (attempt == 1 && PostgresOutcome.IsConnectionFailure(e))
            {
                await DropConnectionAsync().ConfigureAwait(false); // and read the group again on a fresh one
            }
#pragma warning disable CA1031 // Whatever went wrong is handed to the callers waiting, never dropped.
            catch (Exception e)
#pragma warning restore CA1031
            {
                await DropConnectionAsync().ConfigureAwait(false);
                var failure = e switch
                {
                    PostgresException refused when PostgresOutcome.IsRefusedForNow(refused) => PostgresOutcome.Unavailable("a read", refused),
                    PostgresException cancelled when PostgresOutcome.IsCancelledByServer(cancelled) => PostgresOutcome.CancelledByServer("a read", cancelled),
                    _ => e,
                };
                foreach (var request in group)
                {
                    request.Outcome.TrySetException(failure);
                }

                return;
            }
        }
    }

    /// <summary>
    /// The reader's connection (see <see cref="PostgresCommerceStore.OpenConnectionAsync"/>): opening it ends once the store's
    /// disposal cancels <see cref="PostgresCommerceStore.Stopping"/>.
    /// </summary>
    private async ValueTask<NpgsqlConnection> ConnectionAsync() =>
        _connection ??= await _store.OpenConnectionAsync("a group read's connection", _store.Stopping).ConfigureAwait(false);

    private async ValueTask DropConnectionAsync()
    {
        if (_connection is { } connection)
        {
            _connection = null;
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>One queued read: its keys, the handle its states carry, and its caller's outcome.</summary>
    private sealed class Request(StoreKey[] keys, object statement)
    {
        public StoreKey[] Keys { get; } = keys;

        public object Statement { get; } = statement;

        public TaskCompletionSource<StoredState[]> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The state of each of the keys in what the group read found, with this read's handle.</summary>
        public StoredState[] StatesIn(Dictionary<StoreKey, StoredState> found)
        {
            var states = new StoredState[Keys.Length];
            for (var i = 0; i < states.Length; i++)
            {
                states[i] = found.TryGetValue(Keys[i], out var state) ? state with { Handle = Statement } : new StoredState(null, 0, Statement);
            }

            return states;
        }
    }
}
