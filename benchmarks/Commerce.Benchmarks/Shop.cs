using Commerce.Benchmarks.Stores;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Commerce.Benchmarks;

/// <summary>The stores compared; all sit behind the same services.</summary>
public enum StoreKind
{
    /// <summary>One lock held for the whole unit of work (the baseline).</summary>
    GlobalLock,

    /// <summary>Per-key locks taken in key order at commit, with validation of what was read.</summary>
    PerKeyLock,

    /// <summary>The library's lock-free in-memory store.</summary>
    LockFree,
}

/// <summary>The library's services over one store, seeded with products and funded users.</summary>
internal sealed class Shop : IDisposable
{
    public const int Products = 10_000;
    public const int Users = 10_000;
    public const int InitialStock = 1_000_000_000;
    public const long InitialBalance = 1_000_000_000_000;

    private readonly ServiceProvider _provider;

    public Shop(StoreKind kind, TimeProvider? time = null, int products = Products, int users = Users, Action<CommerceOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(Conflicts);
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        var builder = services.AddCommerce(o =>
        {
            o.MaxChargeAmount = new Money(InitialBalance);
            o.MaxBalance = new Money(long.MaxValue / 4);
            configure?.Invoke(o);
        });
        switch (kind)
        {
            case StoreKind.LockFree:
                builder.UseInMemoryStore();
                break;
            case StoreKind.GlobalLock:
                services.AddSingleton<ICommerceStore>(new GlobalLockStore());
                break;
            default:
                services.AddSingleton<ICommerceStore>(new PerKeyLockStore());
                break;
        }

        _provider = services.BuildServiceProvider();
        Orders = _provider.GetRequiredService<IOrderService>();
        Wallets = _provider.GetRequiredService<IWalletService>();
        Catalog = _provider.GetRequiredService<ICatalogService>();
        Carts = _provider.GetRequiredService<ICartService>();
        Ranking = _provider.GetRequiredService<ISalesRankingService>();

        for (var p = 1; p <= products; p++)
        {
            Sync.Check(Catalog.AddProductAsync(new ProductId(p), "Product " + p, PriceOf(p), InitialStock));
        }

        for (var u = 1; u <= users; u++)
        {
            Sync.Check(Wallets.ChargeAsync(new UserId(u), new Money(InitialBalance)));
        }
    }

    public ConflictCounter Conflicts { get; } = new();

    public IServiceProvider Provider => _provider;

    public IOrderService Orders { get; }

    public IWalletService Wallets { get; }

    public ICatalogService Catalog { get; }

    public ICartService Carts { get; }

    public ISalesRankingService Ranking { get; }

    public static Money PriceOf(long product) => new(1 + (product % 100));

    public void Dispose() => _provider.Dispose();
}

/// <summary>Runs the services' value tasks to completion on the calling thread.</summary>
internal static class Sync
{
    public static T Wait<T>(ValueTask<T> task) =>
        task.IsCompletedSuccessfully ? task.Result : task.AsTask().GetAwaiter().GetResult();

    public static T Check<T>(ValueTask<Result<T>> task)
    {
        var result = Wait(task);
        return result.IsSuccess ? result.Value : throw new InvalidOperationException(result.Error.Message);
    }
}

/// <summary>Pre-generated requests, so that the benchmarks measure the shop and not the generator.</summary>
internal static class Requests
{
    public const long HotProduct = 1;

    /// <summary>Orders of 1–3 distinct products (quantities 1–3); with <paramref name="hot"/>, the first line is always <see cref="HotProduct"/>.</summary>
    public static OrderLineRequest[][] Orders(int seed, int count, bool hot, int products = Shop.Products)
    {
        var random = new Random(seed);
        var orders = new OrderLineRequest[count][];
        for (var o = 0; o < count; o++)
        {
            var lines = new OrderLineRequest[random.Next(1, 4)];
            for (var i = 0; i < lines.Length; i++)
            {
                long product;
                do
                {
                    product = hot && i == 0 ? HotProduct : random.Next(1, products + 1);
                }
                while (Contains(lines, i, product));
                lines[i] = new OrderLineRequest(new ProductId(product), random.Next(1, 4));
            }

            orders[o] = lines;
        }

        return orders;
    }

    /// <summary>Users drawn from the first <paramref name="from"/> at random.</summary>
    public static UserId[] Users(int seed, int count, int from = Shop.Users)
    {
        var random = new Random(seed);
        var users = new UserId[count];
        for (var i = 0; i < count; i++)
        {
            users[i] = new UserId(random.Next(1, from + 1));
        }

        return users;
    }

    private static bool Contains(OrderLineRequest[] lines, int filled, long product)
    {
        for (var i = 0; i < filled; i++)
        {
            if (lines[i].ProductId.Value == product)
            {
                return true;
            }
        }

        return false;
    }
}
