namespace Commerce.Postgres;

/// <summary>
/// Wakes the waiters for events (<c>LISTEN</c> on the schema's channel, in any process) after commits that
/// appended events: one <c>NOTIFY</c> in a transaction of its own, sent after the commits, and coalesced —
/// at most one in flight, every signal that arrives while one is in flight (or waits) answered by one more
/// sent after it, and two sends started at least a minimum interval apart.
/// </summary>
/// <remarks>
/// <para>
/// <b>Why not in the commit.</b> PostgreSQL serializes the commits of notifying transactions: each takes
/// one exclusive lock per server, held until its commit record is flushed, so that notifications are queued
/// in commit order. A <c>NOTIFY</c> in every order's commit therefore made orders commit one at a time,
/// each waiting for its own flush of the write-ahead log, where commits without it share flushes. Sent
/// after the commit, it holds that lock only for a transaction of its own, once per round trip however
/// many orders commit meanwhile.
/// </para>
/// <para>
/// <b>Why an interval.</b> Under steady commits, a send follows every round trip of the one before it: about
/// 900 a second at 16 concurrent orders here, each a transaction and a pooled connection of its own (a
/// build that sent none placed 6–9 % more orders per second where the server and the host share two
/// cores; the benchmarks' POSTGRES.md). Spacing sends by a few milliseconds wakes waiters at most that
/// much later.
/// </para>
/// <para>
/// A notification is a wake-up, not data: the events are in their table from the commit on, and a
/// waiter that hears nothing checks again after its recheck interval. A notification that fails (a lost
/// connection) or never leaves (the process stops right after a commit) only delays waiters until then.
/// Thread-safe and lock-free: a signal is one or two compare-and-swaps.
/// </para>
/// </remarks>
internal sealed class PostgresEventNotifier : IAsyncDisposable
{
    private const int Idle = 0;
    private const int Sending = 1;
    private const int SendingThenAgain = 2;

    private readonly Func<CancellationToken, Task> _send;
    private readonly Action<Exception>? _onFailure;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new(); // no timer, nothing linked: nothing to dispose
    private int _state;
    private Task _sender = Task.CompletedTask;
    private long _sent;
    private long _failed;
    private long _waits;
    private long _lastStart; // the timestamp at which the last send started (read and written by the one sender)
    private bool _started;

    /// <summary>Creates a notifier that sends each notification with <paramref name="send"/>.</summary>
    /// <param name="send">Sends one notification.</param>
    /// <param name="onFailure">Told of each send that failed (not of one cancelled by disposal).</param>
    /// <param name="minimumInterval">The least time from the start of one send to the start of the next; zero for none.</param>
    /// <param name="time">The clock that measures the interval (<see cref="TimeProvider.System"/> if <see langword="null"/>).</param>
    public PostgresEventNotifier(Func<CancellationToken, Task> send, Action<Exception>? onFailure = null, TimeSpan minimumInterval = default, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(send);
        ArgumentOutOfRangeException.ThrowIfLessThan(minimumInterval, TimeSpan.Zero);
        _send = send;
        _onFailure = onFailure;
        _interval = minimumInterval;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>How many notifications were sent (a test seam).</summary>
    internal long Sent => Interlocked.Read(ref _sent);

    /// <summary>How many notifications failed (a test seam).</summary>
    internal long Failed => Interlocked.Read(ref _failed);

    /// <summary>How many times a send waited for the interval to pass (a test seam).</summary>
    internal long Waits => Interlocked.Read(ref _waits);

    /// <summary>Asks for a notification sent after this call; called after a commit with events applied.</summary>
    public void Signal()
    {
        while (true)
        {
            var state = Volatile.Read(ref _state);
            switch (state)
            {
                case SendingThenAgain:
                    return; // The one promised after the send in flight also follows this call.
                case Sending when Interlocked.CompareExchange(ref _state, SendingThenAgain, Sending) == Sending:
                    return;
                case Idle when Interlocked.CompareExchange(ref _state, Sending, Idle) == Idle:
                    if (_stopping.IsCancellationRequested)
                    {
                        Volatile.Write(ref _state, Idle);
                        return;
                    }

                    // One send serves every commit that signals until it starts, so it runs in none's execution
                    // context: its Npgsql span is not put in the trace of whichever use case signaled first.
                    _sender = DetachedTask.Run(SendAsync);
                    return;
            }
        }
    }

    /// <summary>Stops sending: cancels the notification in flight, if any, waits for it, and sends no more.</summary>
    public async ValueTask DisposeAsync()
    {
        await Cancellations.CancelAllAsync(_stopping).ConfigureAwait(false); // the send ends on its own, waited for below

        while (true)
        {
            // A signal that started a send just before the cancellation may not have published its task yet.
            var sender = Volatile.Read(ref _sender);
            await sender.ConfigureAwait(false);
            if (Volatile.Read(ref _state) == Idle && ReferenceEquals(sender, Volatile.Read(ref _sender)))
            {
                return;
            }

            // Looked at again from the thread pool: Task.Yield would post to the caller's SynchronizationContext,
            // whose thread the store's synchronous Dispose blocks while it waits for this.
            await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        }
    }

    private async Task SendAsync()
    {
        while (true)
        {
            if (_started && _interval - _time.GetElapsedTime(_lastStart) is var wait && wait > TimeSpan.Zero)
            {
                var delay = Task.Delay(wait, _time, _stopping.Token); // its timer is set before the wait is counted
                Interlocked.Increment(ref _waits);
                try
                {
                    await delay.ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                {
                    Volatile.Write(ref _state, Idle); // disposed while waiting: no more sends
                    return;
                }
            }

            // Whatever asked for another send before this point (while waiting included) is answered by this one.
            Volatile.Write(ref _state, Sending);
            _started = true;
            _lastStart = _time.GetTimestamp();
            try
            {
                await _send(_stopping.Token).ConfigureAwait(false);
                Interlocked.Increment(ref _sent);
            }
#pragma warning disable CA1031 // A notification is a wake-up: waiters recheck on their own, so a failed one is dropped.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Interlocked.Increment(ref _failed);
                if (!_stopping.IsCancellationRequested)
                {
                    _onFailure?.Invoke(e);
                }
            }

            if (_stopping.IsCancellationRequested)
            {
                Volatile.Write(ref _state, Idle); // no more sends, not even one promised
                return;
            }

            if (Interlocked.CompareExchange(ref _state, Idle, Sending) == Sending)
            {
                return;
            }
        }
    }
}
