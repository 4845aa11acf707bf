namespace Commerce.Samples.WebApi;

/// <summary>Fills the store with a few products and wallets at start, when <c>Seed:Enabled</c> is true.</summary>
internal sealed partial class SeedData(ICatalogService catalog, IWalletService wallets, ILogger<SeedData> logger) : IHostedService
{
    private static readonly (long Id, string Name, long Price, int Stock)[] Products =
    [
        (1, "Keyboard", 3_000, 10),
        (2, "Mouse", 1_500, 25),
        (3, "Monitor", 20_000, 5),
        (4, "USB cable", 10, 500),
        (5, "Webcam", 4_500, 8),
        (6, "Headset", 6_000, 12),
    ];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var (id, name, price, stock) in Products)
        {
            await catalog.AddProductAsync(new ProductId(id), name, new Money(price), stock, cancellationToken);
        }

        for (var user = 1; user <= 3; user++)
        {
            await wallets.ChargeAsync(new UserId(user), new Money(100_000), cancellationToken);
        }

        LogSeeded(logger, Products.Length);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Seeded {ProductCount} products and users 1 to 3 with a balance of 100000 each.")]
    private static partial void LogSeeded(ILogger logger, int productCount);
}
