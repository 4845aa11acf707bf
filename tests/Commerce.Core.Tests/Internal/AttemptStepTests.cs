using System.Collections;
using System.Collections.Concurrent;
using Commerce.Conformance;
using Commerce.Storage;
using Commerce.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Commerce.Tests.Internal;

/// <summary>
/// An attempt's steps (open a session, read, commit, close) failing in each way a store's call can fail: throwing at
/// the call, returning a task that faulted already, or faulting later; with the steps before it completing at once (as
/// the in-memory store's do) or later (as a database's do). Whichever way a step fails, the outcome is the one rule:
/// a refusal before the commit is retried, a failure to close after it is logged and the outcome stands, anything else
/// is thrown with nothing applied.
/// </summary>
public sealed class AttemptStepTests
{
    public enum Step
    {
        Open,
        Read,
        Commit,
        Close,
    }

    public enum Failing
    {
        /// <summary>The store's call throws, rather than return a task.</summary>
        Throws,

        /// <summary>The call returns a task that faulted already.</summary>
        Faults,

        /// <summary>The call returns a task that faults after a yield.</summary>
        FaultsLater,
    }

    public static TheoryData<Step, Failing, bool, bool> Cases()
    {
        var cases = new TheoryData<Step, Failing, bool, bool>();
        foreach (var step in Enum.GetValues<Step>())
        {
            foreach (var failing in Enum.GetValues<Failing>())
            {
                foreach (var unavailable in new[] { true, false })
                {
                    foreach (var later in new[] { false, true })
                    {
                        cases.Add(step, failing, unavailable, later);
                    }
                }
            }
        }

        return cases;
    }

    private static (ServiceProvider Provider, StepStore Store, ConcurrentQueue<int> Events) Build(bool later)
    {
        var store = new StepStore(new FakeStore()) { Later = later };
        var events = new ConcurrentQueue<int>();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(new EventIdProvider(events)).SetMinimumLevel(LogLevel.Trace));
        services.AddSingleton<ICommerceStore>(store);
        services.AddCommerce(o => o.RetryBaseDelay = o.MaxRetryDelay = TimeSpan.Zero);
        return (services.BuildServiceProvider(), store, events);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_step_that_fails_once_is_retried_if_the_store_refused_before_a_commit_logged_after_it_and_thrown_otherwise(
        Step step, Failing failing, bool unavailable, bool later)
    {
        var (provider, store, events) = Build(later);
        using var _ = provider;
        var wallets = provider.GetRequiredService<IWalletService>();
        var orders = provider.GetRequiredService<IOrderService>();
        var catalog = provider.GetRequiredService<ICatalogService>();
        var user = new UserId(1);
        Assert.True((await catalog.AddProductAsync(new ProductId(7), "Tea", new Money(30), 5)).IsSuccess);
        Assert.Equal(new Money(100), (await wallets.ChargeAsync(user, new Money(100))).Value);
        Exception failure = unavailable ? new StoreUnavailableException("Refused for the test.") : new IOException("The connection broke.");
        store.Arm(step, failing, failure);

        Result<Order>? placed = null;
        var thrown = await Record.ExceptionAsync(async () => placed = await orders.PlaceOrderAsync(user, [new OrderLineRequest(new ProductId(7), 2)]));

        Assert.Equal(0, store.Armed); // the step failed, once
        if (step == Step.Close)
        {
            // The commit applied: the outcome stands, and the failure to close is logged.
            Assert.Null(thrown);
            Assert.True(placed?.IsSuccess);
            Assert.Contains(905, events); // SessionCloseFailedAfterCommit
            Assert.Equal(new Money(40), await wallets.GetBalanceAsync(user));
        }
        else if (unavailable)
        {
            // Nothing applied: the attempt runs again, and the order is placed once.
            Assert.Null(thrown);
            Assert.True(placed?.IsSuccess);
            Assert.Single(events, e => e == 903); // StoreUnavailable
            Assert.Equal(new Money(40), await wallets.GetBalanceAsync(user));
        }
        else
        {
            Assert.Same(failure, thrown);
            Assert.Equal(new Money(100), await wallets.GetBalanceAsync(user));
            Assert.Equal(5, (await catalog.GetProductAsync(new ProductId(7))).Value.Stock);
        }

        Assert.DoesNotContain(events, e => e is 902 or 904); // nothing gave up
    }

    [Fact]
    public async Task An_order_whose_lines_throw_returns_the_exception_in_its_task_rather_than_throwing_it()
    {
        var (provider, _, _) = Build(later: false);
        using var __ = provider;
        var orders = provider.GetRequiredService<IOrderService>();

        var placing = orders.PlaceOrderAsync(new UserId(1), new ThrowingLines());

        Assert.True(placing.IsFaulted);
        await Assert.ThrowsAsync<InvalidDataException>(async () => await placing);
    }

    [Fact]
    public async Task An_order_cancelled_while_it_runs_returns_a_cancelled_task()
    {
        var (provider, _, _) = Build(later: false);
        using var __ = provider;
        var orders = provider.GetRequiredService<IOrderService>();
        var catalog = provider.GetRequiredService<ICatalogService>();
        Assert.True((await catalog.AddProductAsync(new ProductId(7), "Tea", new Money(30), 5)).IsSuccess);
        using var cancel = new CancellationTokenSource();

        // The second read of the list (the use case's, after validation) cancels the token.
        var placing = orders.PlaceOrderAsync(new UserId(1), new CancellingLines(new OrderLineRequest(new ProductId(7), 1), cancel, atRead: 2), cancel.Token);

        Assert.True(placing.IsCanceled);
        var thrown = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await placing);
        Assert.Equal(cancel.Token, thrown.CancellationToken);
        Assert.Equal(5, (await catalog.GetProductAsync(new ProductId(7))).Value.Stock);
    }

    /// <summary>A list of one line whose every read throws.</summary>
    private sealed class ThrowingLines : IReadOnlyList<OrderLineRequest>
    {
        public OrderLineRequest this[int index] => throw new InvalidDataException("The list could not be read.");

        public int Count => 1;

        public IEnumerator<OrderLineRequest> GetEnumerator() => throw new InvalidDataException("The list could not be read.");

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>A list of one line that cancels <paramref name="cancel"/> at its <paramref name="atRead"/>th read of the line.</summary>
    private sealed class CancellingLines(OrderLineRequest line, CancellationTokenSource cancel, int atRead) : IReadOnlyList<OrderLineRequest>
    {
        private int _reads;

        public OrderLineRequest this[int index]
        {
            get
            {
                if (++_reads == atRead)
                {
                    cancel.Cancel();
                }

                return index == 0 ? line : throw new ArgumentOutOfRangeException(nameof(index));
            }
        }

        public int Count => 1;

        public IEnumerator<OrderLineRequest> GetEnumerator()
        {
            yield return this[0];
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>
    /// Wraps a store: once armed, the next call of one step fails in the way asked for. With <see cref="Later"/>, every
    /// other call completes after a yield, as a database's does.
    /// </summary>
    private sealed class StepStore(ICommerceStore inner) : ICommerceStore
    {
        private Step _step;
        private Failing _failing;
        private Exception? _failure;
        private int _armed;

        public bool Later { get; init; }

        /// <summary>1 while the armed failure has not happened yet.</summary>
        public int Armed => Volatile.Read(ref _armed);

        public void Arm(Step step, Failing failing, Exception failure)
        {
            (_step, _failing, _failure) = (step, failing, failure);
            Volatile.Write(ref _armed, 1);
        }

        public ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) =>
            Run(Step.Open, async () => (IStoreSession)new Session(this, await inner.OpenSessionAsync(cancellationToken)));

        private ValueTask<T> Run<T>(Step step, Func<ValueTask<T>> call)
        {
            if (step == _step && Interlocked.CompareExchange(ref _armed, 0, 1) == 1)
            {
                return _failing switch
                {
                    Failing.Throws => throw _failure!,
                    Failing.Faults => ValueTask.FromException<T>(_failure!),
                    _ => FaultLaterAsync<T>(_failure!),
                };
            }

            return Later ? LaterAsync(call) : call();
        }

        private static async ValueTask<T> FaultLaterAsync<T>(Exception failure)
        {
            await Task.Yield();
            throw failure;
        }

        private static async ValueTask<T> LaterAsync<T>(Func<ValueTask<T>> call)
        {
            await Task.Yield();
            return await call();
        }

        private sealed class Session(StepStore owner, IStoreSession inner) : DelegatingStoreSession(inner)
        {
            public override ValueTask ReadAsync(ReadBatch batch, CancellationToken cancellationToken = default) =>
                Untyped(owner.Run(Step.Read, async () =>
                {
                    await Inner.ReadAsync(batch, cancellationToken);
                    return true;
                }));

            public override ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken = default) =>
                owner.Run(Step.Commit, () => Inner.CommitAsync(changes, cancellationToken));

            public override ValueTask DisposeAsync() =>
                Untyped(owner.Run(Step.Close, async () =>
                {
                    await base.DisposeAsync();
                    return true;
                }));

            private static ValueTask Untyped(ValueTask<bool> task) =>
                task.IsCompletedSuccessfully ? ValueTask.CompletedTask : new(task.AsTask());
        }
    }
}
