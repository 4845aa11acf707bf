using System.Collections.Concurrent;
using System.Threading.Channels;
using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// Group commit: the commits of many concurrent use cases sent as one batch, one transaction, one
/// round trip, each keeping its own all-or-nothing outcome.
/// </summary>
/// <remarks>
/// <para>
/// <b>Queue and committer.</b> A caller builds its commit's statements itself (as a single commit would)
/// and queues them with a completion source; one committer loop per store takes every commit waiting
/// (up to the group size) and sends them as one <see cref="NpgsqlBatch"/>, which PostgreSQL runs as one
/// implicit transaction. While a group is in flight the next one gathers, so a group forms from whoever
/// arrives during a round trip, with no timer. One group is in flight at a time.
/// </para>
/// <para>
/// <b>Lock order.</b> The group's statements are merged by key (then by member, then in each member's
/// order), so the group takes its row and advisory locks in the one global key order single commits use,
/// and does not wait for a lock held by a transaction that waits for one of its own (groups and single
/// commits of other instances; a deadlock, should one occur all the same, is handled below). The group is
/// equivalent to running its members one after the other in queue order: for every key, a member's
/// statements run after those of the members before it. The members' events come after every key's
/// statements (see <see cref="PostgresCommitBatch.EventKey"/>): by stripe, so the stripes' counter rows are
/// locked after every key (only the products' listing lock comes later, see <see cref="PostgresCommitBatch.ListingTable"/>)
/// and in ascending order too, and within a stripe in member order, so the members' events are
/// numbered in queue order. A member sent again without the others keeps its events; one that failed takes
/// its events with it. The page checks of listed products come last of all, so a member that inserts a
/// product after one that checks listed pages goes, with the members after it, once the members before it
/// are decided.
/// </para>
/// <para>
/// <b>A member that fails</b> (a guard raising <c>CM409</c>, or another error of one statement) rolls the
/// whole transaction back, so nothing of the group applied. <see cref="NpgsqlException.BatchCommand"/>
/// names the failed statement (or, on a first send, the first statement without a completion does), whose
/// member alone gets the outcome a single commit would have had — <see langword="false"/> for a conflict,
/// else the exception — once the rest, sent again as a new group, is decided (so that its use case, re-run,
/// reads what the others wrote). A deadlock or serialization failure, or a failed statement that cannot be
/// traced to its member, is no one member's fault: each member is then sent alone.
/// </para>
/// <para>
/// <b>A lost connection</b> leaves the group applied entirely or not at all, the same for every member: it
/// is decided by the best evidence any member carries (<see cref="CommitEvidence"/>), and every member gets
/// that answer, or <see cref="CommitOutcomeUnknownException"/> if no member carries any.
/// </para>
/// <para>
/// A caller still queued when its token is cancelled is dropped and sees the cancellation; a commit taken
/// into a group runs to its end, as a single commit sent does. The store's disposal stops taking new commits
/// (<see cref="Complete"/>) and lets the queued ones finish within its grace (<see cref="PostgresCommerceStore.ShutdownTimeout"/>),
/// then cancels what is left through <see cref="PostgresCommerceStore.Stopping"/>, which every send, connection and
/// lookup of the committer observes: a commit not sent yet, or one the server cancelled (it rolled back), gets
/// <see cref="ObjectDisposedException"/>; one whose connection broke instead (the server did not answer the
/// cancellation) gets <see cref="CommitOutcomeUnknownException"/>. Thread-safe.
/// </para>
/// </remarks>
internal sealed class PostgresGroupCommitter : IAsyncDisposable
{
    /// <summary>A key after every key: a group's page checks come last (they lock nothing).</summary>
    private static readonly StoreKey AfterEveryKey = new((StoreTable)byte.MaxValue, long.MaxValue, long.MaxValue);

    private readonly PostgresCommerceStore _store;
    private readonly int _maxGroupSize;
    private readonly Channel<Member> _queue = Channel.CreateUnbounded<Member>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;
    private NpgsqlConnection? _connection;
    private TaskCompletionSource? _gate;
    private int _gateCount;
    private int _queuedAtGate;
    private int _setGroupsSent;

    public PostgresGroupCommitter(PostgresCommerceStore store, int maxGroupSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxGroupSize, 1);
        _store = store;
        _maxGroupSize = maxGroupSize;
        // The loop serves every caller for the store's life: it must not keep the execution context (and so
        // the current span) of whoever built the store, or every group's Npgsql span would join that trace.
        _loop = DetachedTask.Run(RunAsync);
    }

    /// <summary>How many set-based groups (see <see cref="PostgresSetCommit"/>) were sent, each send counted.</summary>
    internal int SetGroupsSent => Volatile.Read(ref _setGroupsSent);

    /// <summary>A test seam: when set, the size of every group sent (a group sent again after a failed member counts again).</summary>
    internal ConcurrentQueue<int>? SentGroupSizes { get; set; }

    /// <summary>
    /// A test seam: the committer takes no group until <paramref name="count"/> commits are queued from
    /// now on, so that they all join one group (at most the group size), whatever the timing.
    /// </summary>
    internal void HoldUntilQueued(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        Volatile.Write(ref _queuedAtGate, 0);
        Volatile.Write(ref _gateCount, count);
        Volatile.Write(ref _gate, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
    }

    /// <summary>Commits <paramref name="changes"/> (with writes) in the next group: true iff it applied.</summary>
    public async ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken)
    {
        var statements = new NpgsqlBatch();
        var keys = new List<StoreKey>();
        if (!PostgresCommitBatch.TryBuild(_store, changes, statements, out var evidence, keys))
        {
            return false;
        }

        var member = new Member(statements, keys, evidence, PostgresSetCommit.Qualifies(changes) ? changes : null)
        {
            ListsProducts = changes.ProductRanges.Count > 0,
            InsertsProduct = InsertsProduct(changes),
        };
        if (!_queue.Writer.TryWrite(member))
        {
            throw PostgresCommerceStore.DisposedException();
        }

        if (Volatile.Read(ref _gate) is { } gate && Interlocked.Increment(ref _queuedAtGate) >= Volatile.Read(ref _gateCount))
        {
            gate.TrySetResult();
        }

        using (cancellationToken.UnsafeRegister(static (state, token) => ((Member)state!).TryCancel(token), member))
        {
            return await member.Outcome.Task.ConfigureAwait(false);
        }
    }

    /// <summary>Ends once the committer has stopped: after <see cref="Complete"/>, when every commit queued has its outcome.</summary>
    public Task Completion => _loop;

    /// <summary>Stops taking commits (a new one is <see cref="ObjectDisposedException"/>); those queued still go.</summary>
    public void Complete()
    {
        _queue.Writer.TryComplete();
        Volatile.Read(ref _gate)?.TrySetResult(); // A held committer lets the commits queued go.
    }

    /// <summary>Stops taking commits and waits for those queued to have their outcomes (see <see cref="Completion"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        Complete();
        await _loop.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        var group = new List<Member>(_maxGroupSize);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            if (Volatile.Read(ref _gate) is { } gate)
            {
                await gate.Task.ConfigureAwait(false);
                Volatile.Write(ref _gate, null);
            }

            while (group.Count < _maxGroupSize && reader.TryRead(out var member))
            {
                if (member.TryTake())
                {
                    group.Add(member);
                }
            }

            if (group.Count > 0)
            {
                await CommitGroupAsync(group).ConfigureAwait(false);
                group.Clear();
            }
        }

        await DropConnectionAsync().ConfigureAwait(false);
    }

    /// <summary>Sends <paramref name="group"/>, again without each member that fails, until every member has its outcome.</summary>
    private async Task CommitGroupAsync(List<Member> group)
    {
        // Members that failed hear of it once the rest is decided, so that a use case re-run after a
        // conflict reads what the rest of its group wrote rather than racing it.
        var failed = new List<Member>();
        var later = new List<Member>();
        var set = TakeSetMembers(group);
        try
        {
            if (set is not null)
            {
                await CommitSetAsync(set, group, failed).ConfigureAwait(false);
            }

            while (group.Count > 0)
            {
                TakeAfterListing(group, later);
                var firstSend = true;
                while (group.Count > 0)
                {
                    if (!await TrySendAsync(group, firstSend, failed).ConfigureAwait(false))
                    {
                        // No member could be blamed: nothing applied; each member goes alone.
                        foreach (var member in group.ToArray())
                        {
                            await TrySendAsync([member], firstSend: true, failed).ConfigureAwait(false);
                        }

                        group.Clear();
                    }

                    firstSend = false;
                }

                group.AddRange(later);
                later.Clear();
            }
        }
#pragma warning disable CA1031 // Whatever went wrong is handed to the callers still waiting, never dropped.
        catch (Exception e)
#pragma warning restore CA1031
        {
            foreach (var member in set is null ? group.Concat(later) : group.Concat(later).Concat(set))
            {
                member.Outcome.TrySetException(e);
            }
        }
        finally
        {
            foreach (var member in failed)
            {
                member.Settle();
            }
        }
    }

    /// <summary>
    /// Takes out of <paramref name="group"/> (in order) the members that can go as a set-based group
    /// (<see cref="PostgresSetCommit"/>): those that qualify and claim no key a member before them claims.
    /// Null, leaving the group as it is, if fewer than two can.
    /// </summary>
    private static List<Member>? TakeSetMembers(List<Member> group)
    {
        if (group.Count < 2)
        {
            return null;
        }

        var claimed = new HashSet<StoreKey>();
        var set = new List<Member>(group.Count);
        foreach (var member in group)
        {
            if (member.Changes is { } changes && PostgresSetCommit.TryClaim(changes, claimed))
            {
                set.Add(member);
            }
        }

        if (set.Count < 2)
        {
            return null;
        }

        foreach (var member in set)
        {
            member.InSet = true;
        }

        group.RemoveAll(static member => member.InSet);
        return set;
    }

    /// <summary>
    /// Moves to <paramref name="later"/> (in order) the members of <paramref name="group"/> from the first one
    /// that inserts a product after a member that checks listed pages on: a group's page checks run after
    /// every key's statements, so they would see the products inserted by the members after theirs. Those
    /// go once the members before them are decided.
    /// </summary>
    private static void TakeAfterListing(List<Member> group, List<Member> later)
    {
        var listed = false;
        for (var i = 0; i < group.Count; i++)
        {
            if (listed && group[i].InsertsProduct)
            {
                later.AddRange(group.GetRange(i, group.Count - i));
                group.RemoveRange(i, group.Count - i);
                return;
            }

            listed |= group[i].ListsProducts;
        }
    }

    /// <summary>Whether <paramref name="changes"/> inserts a product.</summary>
    private static bool InsertsProduct(ChangeSet changes)
    {
        foreach (ref readonly var change in changes.Changes)
        {
            if (change is { Kind: ChangeKind.Insert, Key.Table: StoreTable.Products })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Sends the set-based group, again without each member it names as failed, until every member has its
    /// outcome; a failure no member can be blamed for puts the members still undecided at the head of
    /// <paramref name="rest"/>, to go as single commits' statements.
    /// </summary>
    private async Task CommitSetAsync(List<Member> set, List<Member> rest, List<Member> failed)
    {
        while (set.Count > 0)
        {
            if (await ConnectionForAsync(set).ConfigureAwait(false) is not { } connection)
            {
                return;
            }

            var batch = _store.WriteBatch(connection);
            await using (batch.ConfigureAwait(false))
            {
                PostgresSetCommit.Build(_store, set.ConvertAll(static member => member.Changes!), batch);
                if (_store.BeforeCommit is { } hook)
                {
                    await hook(connection, _store.Stopping).ConfigureAwait(false);
                }

                var backend = connection.ProcessID;
                try
                {
                    _store.CountRoundTrip();
                    SentGroupSizes?.Enqueue(set.Count);
                    Interlocked.Increment(ref _setGroupsSent);
                    await batch.ExecuteNonQueryAsync(_store.Stopping).ConfigureAwait(false);
                    Settle(set, member => member.Outcome.TrySetResult(true));
                    return;
                }
                catch (OperationCanceledException e) when (_store.Stopping.IsCancellationRequested)
                {
                    var cutOff = await CutOffAsync(e, connection).ConfigureAwait(false);
                    Settle(set, member => member.Outcome.TrySetException(cutOff));
                    return;
                }
                catch (PostgresException e) when (e.InvariantSeverity == "ERROR")
                {
                    // The whole transaction rolled back. A member named goes; else each goes as a single commit would.
                    if (PostgresSetCommit.FailedMember(e) is { } index && index < set.Count)
                    {
                        var member = set[index];
                        failed.Add(member);
                        set.RemoveAt(index);
                        continue;
                    }

                    rest.InsertRange(0, set);
                    set.Clear();
                    return;
                }
                catch (NpgsqlException e) when (PostgresOutcome.IsCancelledAtTimeout(e, connection))
                {
                    var timedOut = PostgresOutcome.TimedOut("a group commit", e);
                    Settle(set, member => member.Outcome.TrySetException(timedOut));
                    return;
                }
                catch (PostgresException e) when (PostgresOutcome.IsRefusedBeforeCommit(e, batch))
                {
                    await DropConnectionAsync().ConfigureAwait(false);
                    var refused = PostgresOutcome.Unavailable("a group commit", e);
                    Settle(set, member => member.Outcome.TrySetException(refused));
                    return;
                }
                catch (Exception e) when (PostgresOutcome.IsInFlightFailure(e))
                {
                    await ResolveInFlightAsync(set, e, backend).ConfigureAwait(false);
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Sends the members as one batch. Returns true when that decided every member (which then leaves
    /// <paramref name="group"/>) or one member that failed (which leaves it; the rest are to be sent again);
    /// false when the batch failed through no member's fault, or through one that cannot be named.
    /// </summary>
    private async Task<bool> TrySendAsync(List<Member> group, bool firstSend, List<Member> failed)
    {
        if (await ConnectionForAsync(group).ConfigureAwait(false) is not { } connection)
        {
            return true;
        }

        var batch = _store.WriteBatch(connection);
        await using (batch.ConfigureAwait(false))
        {
            var owners = Merge(group, batch);
            if (_store.BeforeCommit is { } hook)
            {
                await hook(connection, _store.Stopping).ConfigureAwait(false);
            }

            var backend = connection.ProcessID;
            try
            {
                _store.CountRoundTrip();
                SentGroupSizes?.Enqueue(group.Count);
                await batch.ExecuteNonQueryAsync(_store.Stopping).ConfigureAwait(false);
                Settle(group, member => member.Outcome.TrySetResult(true));
                return true;
            }
            catch (OperationCanceledException e) when (_store.Stopping.IsCancellationRequested)
            {
                var cutOff = await CutOffAsync(e, connection).ConfigureAwait(false);
                Settle(group, member => member.Outcome.TrySetException(cutOff));
                return true;
            }
            catch (PostgresException e) when (e.InvariantSeverity == "ERROR")
            {
                // The server refused a statement: the whole transaction rolled back.
                var member = group.Count == 1 ? group[0] : FailedMember(e, batch, owners, firstSend);
                if (member is null || (group.Count > 1 && e.SqlState != PostgresOutcome.ConflictState && PostgresOutcome.IsConflict(e)))
                {
                    return false;
                }

                member.Failure = PostgresOutcome.IsConflict(e) ? null
                    : PostgresOutcome.IsRefusedForNow(e) ? PostgresOutcome.Unavailable("a commit", e) // as a single commit's
                    : PostgresOutcome.IsCancelledByServer(e) ? PostgresOutcome.CancelledByServer("a commit", e)
                    : e;
                failed.Add(member);
                group.Remove(member);
                return true;
            }
            catch (NpgsqlException e) when (PostgresOutcome.IsCancelledAtTimeout(e, connection))
            {
                // The server cancelled the whole group: nothing of it applied.
                var timedOut = PostgresOutcome.TimedOut("a group commit", e);
                Settle(group, member => member.Outcome.TrySetException(timedOut));
                return true;
            }
            catch (PostgresException e) when (PostgresOutcome.IsRefusedBeforeCommit(e, batch))
            {
                // The backend went away before the group's transaction could commit: nothing of it applied.
                await DropConnectionAsync().ConfigureAwait(false);
                var refused = PostgresOutcome.Unavailable("a group commit", e);
                Settle(group, member => member.Outcome.TrySetException(refused));
                return true;
            }
            catch (Exception e) when (PostgresOutcome.IsInFlightFailure(e))
            {
                await ResolveInFlightAsync(group, e, backend).ConfigureAwait(false);
                return true;
            }
        }
    }

    /// <summary>
    /// The connection failed with the group's batch in flight: the group applied entirely or not at all, which
    /// the best evidence any member carries decides for every member (see <see cref="PostgresOutcome.ResolveAsync"/>,
    /// which fences the write it finds absent, so a lost transaction that goes on rolls back).
    /// </summary>
    private async Task ResolveInFlightAsync(List<Member> group, Exception e, int backend)
    {
        await DropConnectionAsync().ConfigureAwait(false);
        CommitEvidence? best = null;
        foreach (var member in group)
        {
            if (member.Evidence is { } evidence)
            {
                CommitEvidence.Consider(ref best, evidence.Key, evidence.State, evidence.Version, evidence.Inserted);
            }
        }

        try
        {
            var applied = await PostgresOutcome.ResolveAsync(_store, best, e, backend, _store.Stopping).ConfigureAwait(false);
            Settle(group, member => member.Outcome.TrySetResult(applied));
        }
        catch (CommitOutcomeUnknownException unknown)
        {
            Settle(group, member => member.Outcome.TrySetException(unknown));
        }
    }

    /// <summary>
    /// What the members of a batch the store's disposal cut off (see <see cref="PostgresCommerceStore.Stopping"/>) get. On
    /// a connection still open the batch was not sent, or the server cancelled it (its transaction rolled back): nothing
    /// applied, and the commit is refused as one after the disposal is. On a connection broken (Npgsql gave up waiting
    /// for the server's answer to the cancellation), the server may have run the batch, and the store, disposed, looks
    /// nothing up any more: the outcome is unknown.
    /// </summary>
    private async ValueTask<Exception> CutOffAsync(OperationCanceledException e, NpgsqlConnection connection)
    {
        if (connection.FullState == System.Data.ConnectionState.Open)
        {
            return PostgresCommerceStore.DisposedException("before the group commit completed; nothing of it was applied.");
        }

        await DropConnectionAsync().ConfigureAwait(false);
        return new CommitOutcomeUnknownException(
            "The PostgreSQL store was disposed with a group commit in flight, and the server did not answer its cancellation; the commit was applied entirely or not at all.", e);
    }

    /// <summary>Fills <paramref name="batch"/> with the members' statements in key order; returns each statement's member.</summary>
    private static Member?[] Merge(List<Member> group, NpgsqlBatch batch)
    {
        var count = 0;
        foreach (var member in group)
        {
            count += member.Statements.BatchCommands.Count;
        }

        var order = new (StoreKey Key, int Member, int Index)[count];
        var at = 0;
        for (var m = 0; m < group.Count; m++)
        {
            var keys = group[m].Keys;
            for (var i = 0; i < group[m].Statements.BatchCommands.Count; i++)
            {
                order[at++] = (i < keys.Count ? keys[i] : AfterEveryKey, m, i);
            }
        }

        Array.Sort(order, static (x, y) =>
        {
            var byKey = x.Key.CompareTo(y.Key);
            return byKey != 0 ? byKey : x.Member != y.Member ? x.Member.CompareTo(y.Member) : x.Index.CompareTo(y.Index);
        });

        var first = batch.BatchCommands.Count; // the statements before the members' own (see PostgresCommerceStore.WriteBatch) belong to none
        var owners = new Member?[first + count];
        for (var i = 0; i < count; i++)
        {
            var (_, m, index) = order[i];
            batch.BatchCommands.Add(group[m].Statements.BatchCommands[index]);
            owners[first + i] = group[m];
        }

        return owners;
    }

    /// <summary>
    /// The member whose statement failed: the one the exception names, or, on a first send (every statement
    /// fresh), the first statement that did not complete.
    /// </summary>
    private static Member? FailedMember(PostgresException e, NpgsqlBatch batch, Member?[] owners, bool firstSend)
    {
        var commands = batch.BatchCommands;
        if (e.BatchCommand is { } command)
        {
            var index = commands.IndexOf(command);
            return index >= 0 ? owners[index] : null;
        }

        if (firstSend)
        {
            for (var i = 0; i < commands.Count; i++)
            {
                if (commands[i].StatementType == StatementType.Unknown)
                {
                    return owners[i];
                }
            }
        }

        return null;
    }

    private static void Settle(List<Member> group, Action<Member> settle)
    {
        foreach (var member in group)
        {
            settle(member);
        }

        group.Clear();
    }

    /// <summary>
    /// The committer's connection for sending <paramref name="group"/>; null if it could not be opened, each
    /// member then having the failure (nothing was sent, as for its own commit) and the group emptied.
    /// </summary>
    private async ValueTask<NpgsqlConnection?> ConnectionForAsync(List<Member> group)
    {
        try
        {
            return await ConnectionAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_store.Stopping.IsCancellationRequested)
        {
            var refused = PostgresCommerceStore.DisposedException("before the group commit was sent; nothing of it was applied.");
            Settle(group, member => member.Outcome.TrySetException(refused));
            return null;
        }
#pragma warning disable CA1031 // Nothing was sent: each caller gets the failure, as its own commit would have.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Settle(group, member => member.Outcome.TrySetException(e));
            return null;
        }
    }

    /// <summary>
    /// The committer's connection (see <see cref="PostgresCommerceStore.OpenConnectionAsync"/>): a refusal for now goes to every
    /// member of the group. Opening it ends once the store's disposal cancels <see cref="PostgresCommerceStore.Stopping"/>.
    /// </summary>
    private async ValueTask<NpgsqlConnection> ConnectionAsync()
    {
        if (_connection is { FullState: not System.Data.ConnectionState.Open })
        {
            // Npgsql closes a connection on some errors of a statement (class 53, say), whose batch rolled back:
            // a batch sent on it would fail unsent, and be taken for one lost in flight.
            await DropConnectionAsync().ConfigureAwait(false);
        }

        return _connection ??= await _store.OpenConnectionAsync("a group commit's connection", _store.Stopping).ConfigureAwait(false);
    }

    private async ValueTask DropConnectionAsync()
    {
        if (_connection is { } connection)
        {
            _connection = null;
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>One queued commit: its statements (with the key of each), its evidence, and its caller's outcome.</summary>
    private sealed class Member(NpgsqlBatch statements, List<StoreKey> keys, CommitEvidence? evidence, ChangeSet? changes)
    {
        private const int Queued = 0;
        private const int Taken = 1;
        private const int Cancelled = 2;

        private int _state;

        public NpgsqlBatch Statements { get; } = statements;

        /// <summary>The key of each statement, in order; statements past its end (page checks) come after every key.</summary>
        public List<StoreKey> Keys { get; } = keys;

        public CommitEvidence? Evidence { get; } = evidence;

        /// <summary>The change set, if it can go in a set-based group (see <see cref="PostgresSetCommit.Qualifies"/>).</summary>
        public ChangeSet? Changes { get; } = changes;

        /// <summary>Whether the commit checks listed pages (<see cref="ChangeSet.ProductRanges"/>).</summary>
        public bool ListsProducts { get; init; }

        /// <summary>Whether the commit inserts a product.</summary>
        public bool InsertsProduct { get; init; }

        /// <summary>Whether the member was taken into a set-based group.</summary>
        public bool InSet { get; set; }

        public TaskCompletionSource<bool> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Why the member failed: <see langword="null"/> for a conflict, else the server's error (a refusal for now as <see cref="StoreUnavailableException"/>).</summary>
        public Exception? Failure { get; set; }

        /// <summary>Hands a failed member's outcome to its caller: a conflict, or the error.</summary>
        public void Settle()
        {
            if (Failure is { } failure)
            {
                Outcome.TrySetException(failure);
            }
            else
            {
                Outcome.TrySetResult(false);
            }
        }

        /// <summary>Takes the commit into a group, unless its caller gave up first.</summary>
        public bool TryTake() => Interlocked.CompareExchange(ref _state, Taken, Queued) == Queued;

        /// <summary>Drops the commit if no group has taken it yet.</summary>
        public void TryCancel(CancellationToken token)
        {
            if (Interlocked.CompareExchange(ref _state, Cancelled, Queued) == Queued)
            {
                Outcome.TrySetCanceled(token);
            }
        }
    }
}
