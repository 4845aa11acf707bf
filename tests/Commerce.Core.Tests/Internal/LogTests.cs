using System.Collections.Concurrent;
using Commerce.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Commerce.Tests.Internal;

public sealed class LogTests
{
    private static (ServiceProvider Provider, CapturingLoggerProvider Logs) Build(Action<CommerceOptions>? configure = null)
    {
        var logs = new CapturingLoggerProvider();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        services.AddCommerce(configure).UseFakeStore();
        return (services.BuildServiceProvider(), logs);
    }

    [Fact]
    public async Task A_charge_logs_event_101_with_the_new_balance()
    {
        var (provider, logs) = Build();
        using var _ = provider;

        await provider.GetRequiredService<IWalletService>().ChargeAsync(new UserId(4), new Money(250));

        var entry = Assert.Single(logs.Entries, e => e.EventId.Id == 101);
        Assert.Equal("WalletCharged", entry.EventId.Name);
        Assert.Equal(LogLevel.Information, entry.Level);
        Assert.Equal(new Money(250), entry.Value("Balance"));
        Assert.Equal(new UserId(4), entry.Value("UserId"));
    }

    [Fact]
    public async Task A_refused_charge_logs_event_102_with_its_code()
    {
        var (provider, logs) = Build();
        using var _ = provider;

        await provider.GetRequiredService<IWalletService>().ChargeAsync(new UserId(4), new Money(-1));

        var entry = Assert.Single(logs.Entries, e => e.EventId.Id == 102);
        Assert.Equal(CommerceErrorCode.InvalidAmount, entry.Value("ErrorCode"));
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Id == 101);
    }

    [Fact]
    public async Task A_placed_order_logs_event_301_and_a_refused_one_event_302_with_its_code()
    {
        var (provider, logs) = Build();
        using var _ = provider;
        await provider.GetRequiredService<ICatalogService>().AddProductAsync(new ProductId(1), "Tea", new Money(10), 5);
        await provider.GetRequiredService<IWalletService>().ChargeAsync(new UserId(1), new Money(15));
        var orders = provider.GetRequiredService<IOrderService>();

        var placed = await orders.PlaceOrderAsync(new UserId(1), [new OrderLineRequest(new ProductId(1), 1)]);
        await orders.PlaceOrderAsync(new UserId(1), [new OrderLineRequest(new ProductId(1), 1)]);

        var entry = Assert.Single(logs.Entries, e => e.EventId.Id == 301);
        Assert.Equal(placed.Value.Id, entry.Value("OrderId"));
        Assert.Equal(new Money(10), entry.Value("Total"));
        var refused = Assert.Single(logs.Entries, e => e.EventId.Id == 302);
        Assert.Equal(CommerceErrorCode.InsufficientBalance, refused.Value("ErrorCode"));
        Assert.Contains("InsufficientBalance", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Catalog_changes_log_events_201_202_and_203()
    {
        var (provider, logs) = Build();
        using var _ = provider;
        var catalog = provider.GetRequiredService<ICatalogService>();

        await catalog.AddProductAsync(new ProductId(1), "Tea", new Money(10), 5);
        await catalog.RestockAsync(new ProductId(1), 2);
        await catalog.RestockAsync(new ProductId(2), 2);

        Assert.Equal([201, 202, 203], logs.Entries.Select(e => e.EventId.Id).Where(id => id is >= 200 and < 300));
        Assert.Equal(CommerceErrorCode.ProductNotFound, logs.Entries.Single(e => e.EventId.Id == 203).Value("ErrorCode"));
    }

    [Fact]
    public async Task A_replayed_keyed_charge_logs_no_second_charge()
    {
        var (provider, logs) = Build();
        using var _ = provider;
        var wallets = provider.GetRequiredService<IWalletService>();

        await wallets.ChargeAsync(new UserId(4), new Money(250), new IdempotencyKey("once"));
        var replayed = await wallets.ChargeAsync(new UserId(4), new Money(250), new IdempotencyKey("once"));

        Assert.Equal(new Money(250), replayed.Value);
        Assert.Single(logs.Entries, e => e.EventId.Id == 101);
    }

    [Fact]
    public async Task A_replayed_keyed_charge_refusal_logs_no_second_refusal()
    {
        var (provider, logs) = Build(o => o.MaxBalance = new Money(100));
        using var _ = provider;
        var wallets = provider.GetRequiredService<IWalletService>();

        await wallets.ChargeAsync(new UserId(4), new Money(250), new IdempotencyKey("once"));
        var replayed = await wallets.ChargeAsync(new UserId(4), new Money(250), new IdempotencyKey("once"));

        Assert.Equal(CommerceErrorCode.BalanceLimitExceeded, replayed.Error!.Code);
        Assert.Single(logs.Entries, e => e.EventId.Id == 102);
    }

    [Fact]
    public async Task A_replayed_keyed_checkout_logs_no_second_order()
    {
        var (provider, logs) = Build();
        using var _ = provider;
        await provider.GetRequiredService<ICatalogService>().AddProductAsync(new ProductId(1), "Tea", new Money(10), 5);
        await provider.GetRequiredService<IWalletService>().ChargeAsync(new UserId(1), new Money(15));
        var carts = provider.GetRequiredService<ICartService>();
        await carts.AddItemAsync(new UserId(1), new ProductId(1), 1);

        var placed = await carts.CheckoutAsync(new UserId(1), new IdempotencyKey("once"));
        var replayed = await carts.CheckoutAsync(new UserId(1), new IdempotencyKey("once"));

        Assert.Equal(placed.Value.Id, replayed.Value.Id);
        Assert.Equal(placed.Value.Id, Assert.Single(logs.Entries, e => e.EventId.Id == 301).Value("OrderId"));
    }

    [Fact]
    public async Task A_replayed_keyed_checkout_refusal_logs_no_second_refusal()
    {
        var (provider, logs) = Build();
        using var _ = provider;
        var carts = provider.GetRequiredService<ICartService>();

        await carts.CheckoutAsync(new UserId(1), new IdempotencyKey("once"));
        var replayed = await carts.CheckoutAsync(new UserId(1), new IdempotencyKey("once"));

        Assert.Equal(CommerceErrorCode.EmptyOrder, replayed.Error!.Code);
        Assert.Single(logs.Entries, e => e.EventId.Id == 302);
    }

    [Fact]
    public async Task A_replayed_keyed_order_logs_no_second_order()
    {
        var (provider, logs) = Build();
        using var _ = provider;
        await provider.GetRequiredService<ICatalogService>().AddProductAsync(new ProductId(1), "Tea", new Money(10), 5);
        await provider.GetRequiredService<IWalletService>().ChargeAsync(new UserId(1), new Money(15));
        var orders = provider.GetRequiredService<IOrderService>();
        OrderLineRequest[] lines = [new(new ProductId(1), 1)];

        var placed = await orders.PlaceOrderAsync(new UserId(1), lines, new IdempotencyKey("once"));
        var replayed = await orders.PlaceOrderAsync(new UserId(1), lines, new IdempotencyKey("once"));

        Assert.Equal(placed.Value.Id, replayed.Value.Id);
        Assert.Equal(placed.Value.Id, Assert.Single(logs.Entries, e => e.EventId.Id == 301).Value("OrderId"));
    }

    [Fact]
    public async Task A_replayed_keyed_order_refusal_logs_no_second_refusal()
    {
        var (provider, logs) = Build();
        using var _ = provider;
        var orders = provider.GetRequiredService<IOrderService>();
        OrderLineRequest[] lines = [new(new ProductId(1), 1)];

        await orders.PlaceOrderAsync(new UserId(1), lines, new IdempotencyKey("once"));
        var replayed = await orders.PlaceOrderAsync(new UserId(1), lines, new IdempotencyKey("once"));

        Assert.Equal(CommerceErrorCode.ProductNotFound, replayed.Error!.Code);
        Assert.Single(logs.Entries, e => e.EventId.Id == 302);
    }

    [Fact]
    public void A_store_refusal_that_ends_the_attempts_names_the_attempt_it_came_on()
    {
        // A refusal that is not retried ends the first attempt: "gave up after 1 attempts" misstated it.
        var logs = new CapturingLoggerProvider();
        var logger = logs.CreateLogger("Commerce");

        Log.StoreUnavailableRetriesExhausted(logger, "Charge", 1, new StoreUnavailableException("refused"));

        var entry = Assert.Single(logs.Entries);
        Assert.Equal("Charge gave up on attempt 1, refused by the store; nothing was changed.", entry.Message);
        Assert.Equal(1, entry.Value("Attempts"));
    }

    private sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, IReadOnlyList<KeyValuePair<string, object?>> State)
    {
        public object? Value(string name) => State.Single(p => p.Key == name).Value;
    }

    /// <summary>Keeps every log entry written through loggers it created.</summary>
    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        private readonly ConcurrentQueue<LogEntry> _entries = new();

        public IReadOnlyList<LogEntry> Entries => [.. _entries];

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner._entries.Enqueue(new LogEntry(
                    category,
                    logLevel,
                    eventId,
                    formatter(state, exception),
                    state as IReadOnlyList<KeyValuePair<string, object?>> ?? []));
        }
    }
}
