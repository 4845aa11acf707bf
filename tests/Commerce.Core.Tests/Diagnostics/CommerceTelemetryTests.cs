using System.Diagnostics;
using System.Diagnostics.Metrics;
using Commerce.Conformance;
using Commerce.Storage;
using Commerce.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Tests.Diagnostics;

/// <summary>
/// Every instrument and every span of the library, after scripted workloads on the fake store. Each test has
/// its own service provider with its own <see cref="IMeterFactory"/>, and its own root span: what it captures
/// is its own, although the listeners are process-wide and other tests run at the same time.
/// </summary>
public sealed class CommerceTelemetryTests
{
    private static readonly UserId U1 = new(1);
    private static readonly UserId U2 = new(2);
    private static readonly ProductId P1 = new(1);
    private static readonly ProductId P2 = new(2);

    private static ServiceProvider Build(ICommerceStore? store = null, int maxCommitAttempts = 64)
    {
        var services = new ServiceCollection().AddMetrics();
        services.AddCommerce(o =>
        {
            o.MaxCommitAttempts = maxCommitAttempts;
            o.RetryBaseDelay = TimeSpan.Zero;
            o.MaxRetryDelay = TimeSpan.Zero;
        });
        if (store is null)
        {
            services.AddCommerce().UseFakeStore();
        }
        else
        {
            services.AddSingleton(store);
        }

        return services.BuildServiceProvider();
    }

    /// <summary>Every use case once or more, with its refusals; returns the first order (placed, then cancelled).</summary>
    private static async Task<Order> RunWorkloadAsync(IServiceProvider provider)
    {
        var wallets = provider.GetRequiredService<IWalletService>();
        var catalog = provider.GetRequiredService<ICatalogService>();
        var orders = provider.GetRequiredService<IOrderService>();
        var carts = provider.GetRequiredService<ICartService>();
        var ranking = provider.GetRequiredService<ISalesRankingService>();

        Assert.True((await catalog.AddProductAsync(P1, "Tea", new Money(300), 10)).IsSuccess);
        Assert.Equal(CommerceErrorCode.ProductAlreadyExists, (await catalog.AddProductAsync(P1, "Tea", new Money(300), 10)).Error?.Code);
        Assert.Equal(CommerceErrorCode.InvalidProductName, (await catalog.AddProductAsync(P2, " ", new Money(1), 1)).Error?.Code);
        Assert.True((await catalog.AddProductAsync(P2, "Pin", new Money(1), 1)).IsSuccess);
        Assert.True((await catalog.RestockAsync(P1, 5)).IsSuccess);
        Assert.Equal(CommerceErrorCode.InvalidQuantity, (await catalog.RestockAsync(P1, 0)).Error?.Code);

        Assert.True((await wallets.ChargeAsync(U1, new Money(10_000))).IsSuccess);
        Assert.Equal(CommerceErrorCode.InvalidAmount, (await wallets.ChargeAsync(U1, Money.Zero)).Error?.Code);
        Assert.True((await wallets.ChargeAsync(U1, new Money(500), new IdempotencyKey("c1"))).IsSuccess);
        Assert.True((await wallets.ChargeAsync(U1, new Money(500), new IdempotencyKey("c1"))).IsSuccess); // a replay

        var first = (await orders.PlaceOrderAsync(U1, [new OrderLineRequest(P1, 2)])).Value;
        Assert.Equal(CommerceErrorCode.EmptyOrder, (await orders.PlaceOrderAsync(U1, [])).Error?.Code);
        Assert.Equal(CommerceErrorCode.InsufficientBalance, (await orders.PlaceOrderAsync(U2, [new OrderLineRequest(P1, 1)])).Error?.Code);
        Assert.Equal(CommerceErrorCode.InsufficientStock, (await orders.PlaceOrderAsync(U1, [new OrderLineRequest(P2, 5)])).Error?.Code);
        var keyed = await orders.PlaceOrderAsync(U1, [new OrderLineRequest(P1, 1)], new IdempotencyKey("o1"));
        Assert.Equal(keyed.Value.Id, (await orders.PlaceOrderAsync(U1, [new OrderLineRequest(P1, 1)], new IdempotencyKey("o1"))).Value.Id); // a replay
        Assert.True((await orders.CancelOrderAsync(first.Id)).IsSuccess);
        Assert.Equal(CommerceErrorCode.OrderAlreadyCancelled, (await orders.CancelOrderAsync(first.Id)).Error?.Code);

        Assert.True((await carts.AddItemAsync(U1, P1, 1)).IsSuccess);
        Assert.Equal(CommerceErrorCode.InvalidQuantity, (await carts.AddItemAsync(U1, P1, 0)).Error?.Code);
        Assert.Equal(CommerceErrorCode.CartItemNotFound, (await carts.RemoveItemAsync(U1, P2)).Error?.Code);
        Assert.True((await carts.CheckoutAsync(U1)).IsSuccess);

        await wallets.GetBalanceAsync(U1);
        await wallets.GetLedgerAsync(U1);
        await catalog.GetProductAsync(P1);
        await catalog.ListProductsAsync();
        await orders.GetOrderAsync(first.Id);
        await orders.ListOrdersAsync(U1);
        await ranking.GetPopularProductsAsync();
        await carts.GetCartAsync(U1);
        return first;
    }

    [Fact]
    public async Task The_meter_is_named_Commerce_and_comes_from_the_hosts_IMeterFactory_with_every_instrument_named_and_united_after_the_conventions()
    {
        using var provider = Build();
        var factory = provider.GetRequiredService<IMeterFactory>();
        using var capture = new TelemetryCapture(factory);

        await provider.GetRequiredService<IWalletService>().GetBalanceAsync(U1);

        var instruments = capture.Instruments.ToDictionary(i => i.Name);
        Assert.All(instruments.Values, i => Assert.Same(factory, i.Meter.Scope));
        Assert.All(instruments.Values, i => Assert.Equal(typeof(CommerceTelemetry).Assembly.GetName().Version!.ToString(3), i.Meter.Version));
        Assert.All(instruments.Values, i => Assert.False(string.IsNullOrWhiteSpace(i.Description)));
        var expected = new Dictionary<string, (Type Type, string Unit)>
        {
            ["commerce.wallet.charges"] = (typeof(Counter<long>), "{charge}"),
            ["commerce.orders.placed"] = (typeof(Counter<long>), "{order}"),
            ["commerce.orders.refused"] = (typeof(Counter<long>), "{order}"),
            ["commerce.orders.cancelled"] = (typeof(Counter<long>), "{order}"),
            ["commerce.order.total"] = (typeof(Histogram<long>), "{minor_unit}"),
            ["commerce.idempotency.replays"] = (typeof(Counter<long>), "{request}"),
            ["commerce.commit.attempts"] = (typeof(Counter<long>), "{attempt}"),
            ["commerce.commit.conflicts"] = (typeof(Counter<long>), "{conflict}"),
            ["commerce.commit.give_ups"] = (typeof(Counter<long>), "{use_case}"),
            ["commerce.use_case.duration"] = (typeof(Histogram<double>), "s"),
        };
        Assert.Equal(expected.Keys.Order(), instruments.Keys.Order());
        Assert.All(expected, e =>
        {
            Assert.IsType(e.Value.Type, instruments[e.Key]);
            Assert.Equal(e.Value.Unit, instruments[e.Key].Unit);
        });
    }

    [Fact]
    public async Task A_keyed_refusal_is_counted_once_however_often_it_is_replayed()
    {
        using var provider = Build();
        using var capture = new TelemetryCapture(provider.GetRequiredService<IMeterFactory>());
        var catalog = provider.GetRequiredService<ICatalogService>();
        var orders = provider.GetRequiredService<IOrderService>();
        Assert.True((await catalog.AddProductAsync(P1, "Tea", new Money(300), 10)).IsSuccess);

        var key = new IdempotencyKey("refused-once");
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(CommerceErrorCode.InsufficientBalance, (await orders.PlaceOrderAsync(U2, [new OrderLineRequest(P1, 1)], key)).Error?.Code);
        }

        Assert.Equal(new Dictionary<string, double> { ["InsufficientBalance"] = 1 }, capture.SumBy("commerce.orders.refused", "commerce.error.code"));
        Assert.Equal(new Dictionary<string, double> { ["place_order"] = 2 }, capture.SumBy("commerce.idempotency.replays", "commerce.operation"));
    }

    [Fact]
    public void Without_an_IMeterFactory_every_provider_shares_one_static_meter_named_Commerce()
    {
        var shared = CommerceTelemetry.Create(null);

        Assert.Same(CommerceTelemetry.Shared, shared);
        Assert.Equal(CommerceDiagnostics.MeterName, shared.Meter.Name);
        Assert.Null(shared.Meter.Scope);
        Assert.Equal(CommerceDiagnostics.ActivitySourceName, CommerceTelemetry.ActivitySource.Name);
    }

    [Fact]
    public void Every_operation_the_services_name_is_a_use_case_with_a_lower_case_span_name()
    {
        Assert.Equal(16, UseCase.All.Count);
        Assert.All(UseCase.All, u =>
        {
            Assert.Same(u, UseCase.Of(u.Operation));
            Assert.Matches("^commerce\\.[a-z_]+$", u.SpanName);
            Assert.Equal(new KeyValuePair<string, object?>("commerce.operation", u.Name), u.Tag);
        });
        Assert.Throws<ArgumentOutOfRangeException>(() => UseCase.Of("Unknown"));
    }

    [Fact]
    public async Task A_scripted_workload_counts_charges_orders_placed_refused_by_code_cancelled_replays_and_commit_attempts()
    {
        using var provider = Build();
        using var capture = new TelemetryCapture(provider.GetRequiredService<IMeterFactory>());

        await RunWorkloadAsync(provider);

        Assert.Equal(new Dictionary<string, double> { ["charge"] = 2 }, capture.SumBy("commerce.wallet.charges", "commerce.operation"));
        Assert.Equal(new Dictionary<string, double> { ["place_order"] = 2, ["checkout"] = 1 }, capture.SumBy("commerce.orders.placed", "commerce.operation"));
        Assert.Equal(
            new Dictionary<string, double> { ["EmptyOrder"] = 1, ["InsufficientBalance"] = 1, ["InsufficientStock"] = 1 },
            capture.SumBy("commerce.orders.refused", "commerce.error.code"));
        Assert.All(capture.Of("commerce.orders.refused"), m => Assert.Equal("place_order", m.Tag("commerce.operation")));
        Assert.Equal(new Dictionary<string, double> { ["cancel_order"] = 1 }, capture.SumBy("commerce.orders.cancelled", "commerce.operation"));
        Assert.Equal(
            [("place_order", 300.0), ("place_order", 600.0), ("checkout", 300.0)],
            capture.Of("commerce.order.total").Select(m => (m.Tag("commerce.operation")!, m.Value)).OrderBy(t => t.Item1 == "checkout").ThenBy(t => t.Value));
        Assert.Equal(new Dictionary<string, double> { ["charge"] = 1, ["place_order"] = 1 }, capture.SumBy("commerce.idempotency.replays", "commerce.operation"));

        // One commit per use case that reached the store: not the refusals that need no state.
        Assert.Equal(
            new Dictionary<string, double>
            {
                ["add_product"] = 3, ["restock"] = 1, ["charge"] = 3, ["place_order"] = 5, ["cancel_order"] = 2,
                ["add_cart_item"] = 1, ["remove_cart_item"] = 1, ["checkout"] = 1, ["get_balance"] = 1, ["get_ledger"] = 1,
                ["get_product"] = 1, ["list_products"] = 1, ["get_order"] = 1, ["list_orders"] = 1, ["get_popular_products"] = 1,
                ["get_cart"] = 1,
            },
            capture.SumBy("commerce.commit.attempts", "commerce.operation"));
        Assert.Empty(capture.Of("commerce.commit.conflicts"));
        Assert.Empty(capture.Of("commerce.commit.give_ups"));
        Assert.All(capture.Measurements.Where(m => m.Instrument != "commerce.use_case.duration" && m.Instrument != "commerce.order.total"), m => Assert.Equal(1, m.Value));
    }

    [Fact]
    public async Task A_scripted_workload_records_one_duration_in_seconds_per_use_case_call_with_the_error_code_of_each_refusal()
    {
        using var provider = Build();
        using var capture = new TelemetryCapture(provider.GetRequiredService<IMeterFactory>());

        await RunWorkloadAsync(provider);

        var durations = capture.Of("commerce.use_case.duration").ToList();
        Assert.All(durations, m => Assert.Equal("s", m.Unit));
        Assert.All(durations, m => Assert.InRange(m.Value, 0, double.MaxValue));
        Assert.Equal(
            new Dictionary<string, double>
            {
                ["add_product"] = 4, ["restock"] = 2, ["charge"] = 4, ["place_order"] = 6, ["cancel_order"] = 2,
                ["add_cart_item"] = 2, ["remove_cart_item"] = 1, ["checkout"] = 1, ["get_balance"] = 1, ["get_ledger"] = 1,
                ["get_product"] = 1, ["list_products"] = 1, ["get_order"] = 1, ["list_orders"] = 1, ["get_popular_products"] = 1,
                ["get_cart"] = 1,
            },
            durations.GroupBy(m => m.Tag("commerce.operation")!).ToDictionary(g => g.Key, g => (double)g.Count()));
        Assert.Equal(
            [
                "add_cart_item InvalidQuantity", "add_product InvalidProductName", "add_product ProductAlreadyExists",
                "cancel_order OrderAlreadyCancelled", "charge InvalidAmount", "place_order EmptyOrder",
                "place_order InsufficientBalance", "place_order InsufficientStock", "remove_cart_item CartItemNotFound",
                "restock InvalidQuantity",
            ],
            durations.Where(m => m.Tag("error.type") is not null).Select(m => $"{m.Tag("commerce.operation")} {m.Tag("error.type")}").Order());
    }

    [Fact]
    public async Task A_scripted_workload_traces_one_span_per_use_case_call_under_the_callers_span_with_its_ids_and_refusals()
    {
        using var provider = Build();
        using var capture = new TelemetryCapture(provider.GetRequiredService<IMeterFactory>());

        var first = await RunWorkloadAsync(provider);

        var spans = capture.Spans;
        Assert.Equal(30, spans.Count);
        Assert.Equal(UseCase.All.Select(u => u.SpanName).Order(), spans.Select(s => s.OperationName).Distinct().Order());
        Assert.All(spans, s =>
        {
            Assert.Equal(CommerceDiagnostics.ActivitySourceName, s.Source.Name);
            Assert.Equal(ActivityKind.Internal, s.Kind);
            Assert.Equal(capture.Root!.SpanId, s.ParentSpanId);
            Assert.Equal(ActivityStatusCode.Unset, s.Status); // refusals are outcomes, not errors
            Assert.Empty(s.Events);
        });

        static object? TagOf(Activity span, string tag) => span.GetTagItem(tag);
        var placed = spans.Where(s => s.OperationName == "commerce.place_order" && TagOf(s, "commerce.order.id") is not null).ToList();
        Assert.Equal(3, placed.Count); // two orders, and the replay of one
        Assert.Contains(placed, s => (string?)TagOf(s, "commerce.order.id") == first.Id.ToString());
        Assert.All(placed, s => Assert.Equal(1L, TagOf(s, "commerce.user.id")));
        Assert.Single(placed, s => TagOf(s, "commerce.idempotency.replayed") is true);
        Assert.Single(spans, s => s.OperationName == "commerce.charge" && TagOf(s, "commerce.idempotency.replayed") is true);
        Assert.Equal(
            ["EmptyOrder", "InsufficientBalance", "InsufficientStock"],
            spans.Where(s => s.OperationName == "commerce.place_order").Select(s => TagOf(s, "commerce.error.code") as string).OfType<string>().Order());
        Assert.Equal(2L, TagOf(spans.Single(s => (string?)TagOf(s, "commerce.error.code") == "InsufficientBalance"), "commerce.user.id"));

        var cancels = spans.Where(s => s.OperationName == "commerce.cancel_order").ToList();
        Assert.All(cancels, s => Assert.Equal(first.Id.ToString(), TagOf(s, "commerce.order.id")));
        Assert.Single(cancels, s => (string?)TagOf(s, "commerce.error.code") == "OrderAlreadyCancelled");
        Assert.Single(cancels, s => Equals(TagOf(s, "commerce.user.id"), 1L));
        Assert.Equal(first.Id.ToString(), TagOf(spans.Single(s => s.OperationName == "commerce.get_order"), "commerce.order.id"));
        Assert.Equal(1L, TagOf(spans.Single(s => s.OperationName == "commerce.get_product"), "commerce.product.id"));
        Assert.All(spans.Where(s => s.OperationName is "commerce.restock" or "commerce.add_product"), s => Assert.NotNull(TagOf(s, "commerce.product.id")));
        Assert.All(
            spans.Where(s => s.OperationName is "commerce.get_balance" or "commerce.get_ledger" or "commerce.list_orders" or "commerce.get_cart"
                or "commerce.add_cart_item" or "commerce.remove_cart_item" or "commerce.checkout" or "commerce.charge"),
            s => Assert.Equal(1L, TagOf(s, "commerce.user.id")));
        Assert.Equal("CartItemNotFound", TagOf(spans.Single(s => s.OperationName == "commerce.remove_cart_item"), "commerce.error.code"));
    }

    [Fact]
    public async Task An_attempt_cancelled_before_its_commit_started_is_not_counted_as_a_commit_attempt()
    {
        var store = new ScriptedStore(new FakeStore());
        using var provider = Build(store);
        using var capture = new TelemetryCapture(provider.GetRequiredService<IMeterFactory>());
        using var cancellation = new CancellationTokenSource();
        store.OnRead = cancellation.Cancel; // The caller gives up while the use case reads: its commit never starts.

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => provider.GetRequiredService<IWalletService>().ChargeAsync(U1, new Money(10), cancellation.Token).AsTask());

        Assert.Empty(capture.Of("commerce.commit.attempts"));
        Assert.Empty(capture.Of("commerce.wallet.charges"));
    }

    [Fact]
    public async Task A_use_case_its_caller_cancels_counts_no_outcome_and_is_measured_and_traced_as_the_exception_it_threw()
    {
        var store = new ScriptedStore(new FakeStore());
        using var provider = Build(store);
        Assert.True((await provider.GetRequiredService<ICatalogService>().AddProductAsync(P1, "Tea", new Money(300), 10)).IsSuccess);
        Assert.True((await provider.GetRequiredService<IWalletService>().ChargeAsync(U1, new Money(1_000))).IsSuccess);
        using var capture = new TelemetryCapture(provider.GetRequiredService<IMeterFactory>());
        using var cancellation = new CancellationTokenSource();
        store.OnRead = cancellation.Cancel; // The caller gives up while the keyed order reads.

        var thrown = await Record.ExceptionAsync(() => provider.GetRequiredService<IOrderService>()
            .PlaceOrderAsync(U1, [new OrderLineRequest(P1, 1)], new IdempotencyKey("order-1"), cancellation.Token).AsTask());

        // Neither placed nor refused (it is no business outcome), nor a replay; no commit was tried.
        Assert.IsAssignableFrom<OperationCanceledException>(thrown);
        Assert.Empty(capture.Of("commerce.orders.placed"));
        Assert.Empty(capture.Of("commerce.orders.refused"));
        Assert.Empty(capture.Of("commerce.order.total"));
        Assert.Empty(capture.Of("commerce.idempotency.replays"));
        Assert.Empty(capture.Of("commerce.commit.attempts"));

        // As the README says of an exception that went through: its duration and span carry its type, the span ends in error.
        var duration = Assert.Single(capture.Of("commerce.use_case.duration"));
        Assert.Equal(("place_order", thrown.GetType().FullName), (duration.Tag("commerce.operation"), duration.Tag("error.type")));
        var span = Assert.Single(capture.Spans);
        Assert.Equal("commerce.place_order", span.OperationName);
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Equal(thrown.GetType().FullName, span.GetTagItem("error.type"));
        Assert.Null(span.GetTagItem("commerce.error.code"));
    }

    [Fact]
    public async Task A_cancelled_call_whose_arguments_alone_would_be_refused_counts_no_refusal_and_is_traced_as_the_cancellation()
    {
        using var provider = Build();
        using var capture = new TelemetryCapture(provider.GetRequiredService<IMeterFactory>());
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();

        var thrown = await Record.ExceptionAsync(() => provider.GetRequiredService<IOrderService>().PlaceOrderAsync(U1, [], cancellation.Token).AsTask());
        var cartThrown = await Record.ExceptionAsync(() => provider.GetRequiredService<ICartService>().AddItemAsync(U1, P1, 0, cancellation.Token).AsTask());

        // Neither is a business outcome: no refusal is counted, and each is measured and traced as the cancellation.
        Assert.IsAssignableFrom<OperationCanceledException>(thrown);
        Assert.IsAssignableFrom<OperationCanceledException>(cartThrown);
        Assert.Empty(capture.Of("commerce.orders.refused"));
        Assert.Equal(
            [("place_order", typeof(OperationCanceledException).FullName), ("add_cart_item", typeof(OperationCanceledException).FullName)],
            capture.Of("commerce.use_case.duration").Select(m => (m.Tag("commerce.operation"), m.Tag("error.type"))));
        Assert.Equal(2, capture.Spans.Count);
        Assert.All(capture.Spans, span =>
        {
            Assert.Equal(ActivityStatusCode.Error, span.Status);
            Assert.Null(span.GetTagItem("commerce.error.code"));
        });
    }

    [Fact]
    public async Task Conflicts_are_counted_and_added_to_the_span_as_events_and_a_use_case_that_gives_up_is_an_error()
    {
        var store = new ScriptedStore(new FakeStore()) { Conflicts = 3 };
        using var provider = Build(store, maxCommitAttempts: 5);
        using var capture = new TelemetryCapture(provider.GetRequiredService<IMeterFactory>());
        var wallets = provider.GetRequiredService<IWalletService>();

        Assert.True((await wallets.ChargeAsync(U1, new Money(10))).IsSuccess); // three conflicts, then a commit
        store.Conflicts = int.MaxValue;
        Assert.Equal(CommerceErrorCode.ConcurrencyConflict, (await wallets.ChargeAsync(U1, new Money(10))).Error?.Code);

        Assert.Equal(9, capture.Of("commerce.commit.attempts").Sum(m => m.Value));
        Assert.Equal(8, capture.Of("commerce.commit.conflicts").Sum(m => m.Value));
        Assert.All(capture.Of("commerce.commit.conflicts"), m => Assert.Equal("charge", m.Tag("commerce.operation")));
        Assert.Equal(new Dictionary<string, double> { ["charge"] = 1 }, capture.SumBy("commerce.commit.give_ups", "commerce.operation"));
        Assert.Equal(1, capture.Of("commerce.wallet.charges").Sum(m => m.Value));
        Assert.Equal(["ConcurrencyConflict"], capture.Of("commerce.use_case.duration").Select(m => m.Tag("error.type")).OfType<string>());

        var spans = capture.Spans;
        Assert.Equal(2, spans.Count);
        Assert.Equal([1, 2, 3], spans[0].Events.Select(e => Assert.IsType<int>(e.Tags.Single(t => t.Key == "commerce.commit.attempt").Value)));
        Assert.All(spans[0].Events, e => Assert.Equal("commerce.commit.conflict", e.Name));
        Assert.Equal(ActivityStatusCode.Unset, spans[0].Status);
        Assert.Equal([1, 2, 3, 4, 5], spans[1].Events.Select(e => (int)e.Tags.Single().Value!));
        Assert.Equal(ActivityStatusCode.Error, spans[1].Status);
        Assert.Equal("ConcurrencyConflict", spans[1].GetTagItem("commerce.error.code"));
        Assert.Equal("ConcurrencyConflict", spans[1].GetTagItem("error.type"));
    }

    [Fact]
    public async Task A_use_case_that_throws_ends_its_span_as_an_error_with_the_exception_and_its_duration_with_the_exceptions_type()
    {
        var store = new ScriptedStore(new FakeStore()) { Throw = true };
        using var provider = Build(store);
        using var capture = new TelemetryCapture(provider.GetRequiredService<IMeterFactory>());

        await Assert.ThrowsAsync<CommitOutcomeUnknownException>(async () => await provider.GetRequiredService<IOrderService>().PlaceOrderAsync(U1, [new OrderLineRequest(P1, 1)]));
        await Assert.ThrowsAsync<CommitOutcomeUnknownException>(async () => await provider.GetRequiredService<IWalletService>().GetBalanceAsync(U1));
        await Assert.ThrowsAsync<CommitOutcomeUnknownException>(async () => await provider.GetRequiredService<ICatalogService>().GetProductAsync(P1));

        Assert.Equal(
            ["get_balance", "get_product", "place_order"],
            capture.Of("commerce.use_case.duration").Select(m => m.Tag("commerce.operation")).Order());
        Assert.All(capture.Of("commerce.use_case.duration"), m => Assert.Equal(typeof(CommitOutcomeUnknownException).FullName, m.Tag("error.type")));
        Assert.Empty(capture.Of("commerce.orders.refused"));
        Assert.Equal(3, capture.Spans.Count);
        Assert.All(capture.Spans, s =>
        {
            Assert.Equal(ActivityStatusCode.Error, s.Status);
            Assert.Equal(typeof(CommitOutcomeUnknownException).FullName, s.GetTagItem("error.type"));
            Assert.Equal("exception", Assert.Single(s.Events).Name);
            Assert.True(s.IsStopped);
        });
        Assert.Same(capture.Root, Activity.Current);
    }

    [Fact]
    public async Task A_refusal_that_needs_no_state_still_has_its_span_and_leaves_the_callers_span_current()
    {
        using var provider = Build();
        using var capture = new TelemetryCapture(provider.GetRequiredService<IMeterFactory>());

        var added = provider.GetRequiredService<ICartService>().AddItemAsync(U1, P1, -1);

        Assert.True(added.IsCompletedSuccessfully);
        Assert.Same(capture.Root, Activity.Current);
        Assert.Equal(CommerceErrorCode.InvalidQuantity, (await added).Error?.Code);
        var span = Assert.Single(capture.Spans);
        Assert.Equal("commerce.add_cart_item", span.OperationName);
        Assert.Equal("InvalidQuantity", span.GetTagItem("commerce.error.code"));
    }

    [Fact]
    public async Task A_product_listing_after_a_cursor_is_not_tagged_with_the_cursor_as_its_product()
    {
        using var provider = Build();
        using var capture = new TelemetryCapture(provider.GetRequiredService<IMeterFactory>());

        await provider.GetRequiredService<ICatalogService>().ListProductsAsync(P1, 10);

        var span = Assert.Single(capture.Spans);
        Assert.Equal("commerce.list_products", span.OperationName);
        Assert.Null(span.GetTagItem("commerce.product.id"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_use_case_the_store_kept_refusing_is_not_counted_as_giving_up_on_conflicts(bool retryable)
    {
        var store = new ScriptedStore(new FakeStore());
        using var provider = Build(store, maxCommitAttempts: 5);
        using var capture = new TelemetryCapture(provider.GetRequiredService<IMeterFactory>());
        store.Refusal = new StoreUnavailableException("No connection left.", new TimeoutException(), retryable);

        var charged = await provider.GetRequiredService<IWalletService>().ChargeAsync(U1, new Money(10));

        Assert.Equal(CommerceErrorCode.StoreUnavailable, charged.Error?.Code);
        Assert.Empty(capture.Of("commerce.commit.conflicts"));
        Assert.Empty(capture.Of("commerce.commit.give_ups"));
    }

    [Fact]
    public async Task A_use_case_the_store_kept_refusing_ends_its_span_as_an_error_like_one_that_gave_up_on_conflicts()
    {
        var store = new ScriptedStore(new FakeStore());
        using var provider = Build(store, maxCommitAttempts: 3);
        using var capture = new TelemetryCapture(provider.GetRequiredService<IMeterFactory>());
        store.Refusal = new StoreUnavailableException("No connection left.", new TimeoutException());

        var charged = await provider.GetRequiredService<IWalletService>().ChargeAsync(U1, new Money(10));

        Assert.Equal(CommerceErrorCode.StoreUnavailable, charged.Error?.Code);
        var span = Assert.Single(capture.Spans);
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Equal("StoreUnavailable", span.GetTagItem("commerce.error.code"));
        Assert.Equal("StoreUnavailable", span.GetTagItem("error.type"));
    }

    /// <summary>Wraps a store: its first <see cref="Conflicts"/> commits conflict; with <see cref="Throw"/>, every read fails as a lost connection would.</summary>
    private sealed class ScriptedStore(ICommerceStore inner) : ICommerceStore
    {
        private int _commits;

        public int Conflicts { get; set; }

        public bool Throw { get; set; }

        /// <summary>Called on every key read, before it runs.</summary>
        public Action? OnRead { get; set; }

        /// <summary>What every commit throws once set (a refusal: nothing applied).</summary>
        public StoreUnavailableException? Refusal { get; set; }

        public async ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) =>
            new Session(this, await inner.OpenSessionAsync(cancellationToken));

        private sealed class Session(ScriptedStore owner, IStoreSession inner) : DelegatingStoreSession(inner)
        {
            public override ValueTask ReadAsync(ReadBatch batch, CancellationToken cancellationToken = default)
            {
                owner.OnRead?.Invoke();
                return owner.Throw ? throw new CommitOutcomeUnknownException() : Inner.ReadAsync(batch, cancellationToken);
            }

            public override ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken = default) =>
                owner.Refusal is { } refusal ? throw refusal
                : owner.Throw ? throw new CommitOutcomeUnknownException()
                : ++owner._commits <= owner.Conflicts ? ValueTask.FromResult(false)
                : Inner.CommitAsync(changes, cancellationToken);
        }
    }
}
