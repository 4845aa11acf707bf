// A walk through the Commerce library: wallets, catalog, orders, best-sellers and carts, each with
// its success and failure branches, then 1,000 concurrent buyers racing for 100 units.
//
//   dotnet run --project samples/Commerce.Samples.Console
//
// To run the same demo on PostgreSQL instead of the in-memory store, give a connection string:
//
//   dotnet run --project samples/Commerce.Samples.Console -- --Postgres "Host=127.0.0.1;Port=5432;Username=postgres"
//
// (each run uses a fresh schema, created by the store's migrator).
//
// The library logs every change at Information under the category "Commerce"; this sample shows
// only warnings unless configured otherwise, e.g. --Logging:LogLevel:Commerce=Information.
using System.Collections.Concurrent;
using System.Globalization;
using Commerce;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var builder = Host.CreateApplicationBuilder(args);
if (builder.Configuration["Logging:LogLevel:Commerce"] is null)
{
    builder.Logging.AddFilter("Commerce", LogLevel.Warning);
}

var commerce = builder.Services
    .AddCommerce(options =>
    {
        // Small limits so the demo can reach them.
        options.MaxChargeAmount = new Money(1_000_000);
        options.MaxBalance = new Money(5_000_000);
    });
var postgres = builder.Configuration["Postgres"];
if (string.IsNullOrWhiteSpace(postgres))
{
    commerce.UseInMemoryStore();
}
else
{
    commerce.UsePostgresStore(options =>
    {
        options.ConnectionString = postgres;
        options.Schema = $"commerce_demo_{Guid.NewGuid():N}";
    });
}

using var host = builder.Build();
var services = host.Services;
if (!string.IsNullOrWhiteSpace(postgres))
{
    await services.EnsureCommerceSchemaAsync();
    Console.WriteLine("Store: PostgreSQL (a fresh schema)");
}
else
{
    Console.WriteLine("Store: in-memory (lock-free)");
}

var wallets = services.GetRequiredService<IWalletService>();
var catalog = services.GetRequiredService<ICatalogService>();
var orders = services.GetRequiredService<IOrderService>();
var ranking = services.GetRequiredService<ISalesRankingService>();
var carts = services.GetRequiredService<ICartService>();

var alice = new UserId(1);
var bob = new UserId(2);
var carol = new UserId(3);
var dave = new UserId(4);

// ---------------------------------------------------------------- 1. Wallets
Heading("1. Wallets: charge and balance");
ShowText("Balance of a user never charged", $"{await wallets.GetBalanceAsync(alice)}");
Show("Charge user 1 with 100,000", await wallets.ChargeAsync(alice, new Money(100_000)), Balance);
Show("Charge user 1 with 25,000", await wallets.ChargeAsync(alice, new Money(25_000)), Balance);
ShowText("Balance of user 1", $"{await wallets.GetBalanceAsync(alice)}");
Show("Charge user 1 with 0", await wallets.ChargeAsync(alice, Money.Zero), Balance);
Show("Charge user 1 with -500", await wallets.ChargeAsync(alice, new Money(-500)), Balance);
Show("Charge user 1 with 2,000,000 (one charge is at most 1,000,000)", await wallets.ChargeAsync(alice, new Money(2_000_000)), Balance);
for (var i = 0; i < 5; i++)
{
    await wallets.ChargeAsync(dave, new Money(1_000_000));
}

ShowText("User 4 holds (after five charges of 1,000,000)", $"{await wallets.GetBalanceAsync(dave)}");
Show("Charge user 4 with 1 more (a balance is at most 5,000,000)", await wallets.ChargeAsync(dave, new Money(1)), Balance);
ShowText("Balance of user 4 is unchanged", $"{await wallets.GetBalanceAsync(dave)}");

// ---------------------------------------------------------------- 2. Catalog
Heading("2. Products: add, restock, list");
(long Id, string Name, long Price, int Stock)[] products =
[
    (1, "Keyboard", 3_000, 10),
    (2, "Mouse", 1_500, 5),
    (3, "Monitor", 20_000, 2),
    (4, "USB cable", 10, 100),
    (5, "Webcam", 4_500, 3),
    (6, "Headset", 6_000, 4),
];
foreach (var (id, name, price, stock) in products)
{
    Show($"Add product {id}", await catalog.AddProductAsync(new ProductId(id), name, new Money(price), stock), Describe);
}

Show("Add product 1 again", await catalog.AddProductAsync(new ProductId(1), "Another keyboard", new Money(10), 1), Describe);
Show("Add product 7 with a blank name", await catalog.AddProductAsync(new ProductId(7), "   ", new Money(10), 1), Describe);
Show("Add product 7 with a negative price", await catalog.AddProductAsync(new ProductId(7), "Desk", new Money(-1), 1), Describe);
Show("Restock product 2 with 10", await catalog.RestockAsync(new ProductId(2), 10), Describe);
Show("Restock product 2 with 0", await catalog.RestockAsync(new ProductId(2), 0), Describe);
Show("Restock product 42", await catalog.RestockAsync(new ProductId(42), 5), Describe);

ProductId? after = null;
for (var page = 1; ; page++)
{
    var items = await catalog.ListProductsAsync(after, limit: 4);
    Console.WriteLine($"  Page {page} (up to 4 products{(after is null ? "" : $" after id {after}")}):");
    foreach (var product in items)
    {
        Console.WriteLine($"    {Describe(product)}");
    }

    if (items.Count < 4)
    {
        break;
    }

    after = items[^1].Id;
}

// ---------------------------------------------------------------- 3. Orders
Heading("3. Orders: all or nothing");
await wallets.ChargeAsync(bob, new Money(1_000));
var placed = await orders.PlaceOrderAsync(alice, [new(new ProductId(1), 2), new(new ProductId(4), 3)]);
Show("User 1 buys 2 keyboards and 3 USB cables", placed, Describe);
ShowText("  balance of user 1 after", $"{await wallets.GetBalanceAsync(alice)}");
ShowText("  stock after", $"keyboard {await StockOf(1)}, USB cable {await StockOf(4)}");

Show("User 1 orders nothing", await orders.PlaceOrderAsync(alice, []), Describe);
Show("User 1 orders product 42", await orders.PlaceOrderAsync(alice, [new(new ProductId(1), 1), new(new ProductId(42), 1)]), Describe);
Show("User 1 orders -1 keyboard", await orders.PlaceOrderAsync(alice, [new(new ProductId(1), -1)]), Describe);
Show("User 2 (balance 1,000) buys a monitor at 20,000", await orders.PlaceOrderAsync(bob, [new(new ProductId(3), 1)]), Describe);

var shortOrder = await orders.PlaceOrderAsync(alice, [new(new ProductId(3), 3), new(new ProductId(1), 1), new(new ProductId(5), 5)]);
Show("User 1 buys 3 monitors, 1 keyboard and 5 webcams", shortOrder, Describe);
if (shortOrder.IsFailure)
{
    var names = new List<string>();
    foreach (var id in shortOrder.Error.ProductIds)
    {
        var product = await catalog.GetProductAsync(id);
        names.Add(product.IsSuccess ? $"{product.Value.Name} (only {product.Value.Stock} left)" : $"{id}");
    }

    Console.WriteLine($"  short products: {string.Join(", ", names)}");
    Console.WriteLine($"  nothing changed: balance {await wallets.GetBalanceAsync(alice)}, keyboard stock {await StockOf(1)}");
}

Show("User 1 orders 2 + 3 USB cables on two lines", await orders.PlaceOrderAsync(alice, [new(new ProductId(4), 2), new(new ProductId(4), 3)]), Describe);
if (placed.IsSuccess)
{
    Show($"Get order {placed.Value.Id}", await orders.GetOrderAsync(placed.Value.Id), Describe);
}

Show("Get an unknown order", await orders.GetOrderAsync(new OrderId(Guid.NewGuid())), Describe);

// ---------------------------------------------------------------- 4. Best-sellers
Heading("4. Popular products: top 5 over the last 3 days");
await wallets.ChargeAsync(carol, new Money(200_000));
await orders.PlaceOrderAsync(carol, [new(new ProductId(2), 4), new(new ProductId(6), 1)]);
await orders.PlaceOrderAsync(carol, [new(new ProductId(2), 2), new(new ProductId(5), 1), new(new ProductId(1), 1)]);
await orders.PlaceOrderAsync(bob, [new(new ProductId(4), 10)]);
foreach (var popular in await ranking.GetPopularProductsAsync())
{
    Console.WriteLine($"  #{popular.Rank} {popular.Name} (product {popular.ProductId}, price {popular.Price}): {popular.QuantitySold} sold");
}

// ---------------------------------------------------------------- 5. Carts
Heading("5. Carts");
Show("User 3 adds 2 keyboards (creates the line)", await carts.AddItemAsync(carol, new ProductId(1), 2), Describe);
Show("User 3 adds 1 more keyboard (increases the line)", await carts.AddItemAsync(carol, new ProductId(1), 1), Describe);
Show("User 3 adds 2 mice", await carts.AddItemAsync(carol, new ProductId(2), 2), Describe);
Show("User 3 adds 1 headset", await carts.AddItemAsync(carol, new ProductId(6), 1), Describe);
Show("User 3 adds product 42", await carts.AddItemAsync(carol, new ProductId(42), 1), Describe);
Show("User 3 adds 0 mice", await carts.AddItemAsync(carol, new ProductId(2), 0), Describe);
Show("User 3 removes the mice", await carts.RemoveItemAsync(carol, new ProductId(2)), Describe);
Show("User 3 removes the mice again", await carts.RemoveItemAsync(carol, new ProductId(2)), Describe);
Console.WriteLine("  The cart of user 3:");
PrintCart(await carts.GetCartAsync(carol));

// ---------------------------------------------------------------- 6. Concurrency
Heading("6. 1,000 concurrent buyers, 100 units");
const int Buyers = 1_000;
const int Units = 100;
var budget = new Money(1_000);
var unitPrice = new Money(250);
var limited = new ProductId(1_000);
await catalog.AddProductAsync(limited, "Limited edition", unitPrice, Units);
for (var i = 0; i < Buyers; i++)
{
    await wallets.ChargeAsync(new UserId(10_000 + i), budget);
}

var succeeded = 0;
var refusals = new ConcurrentDictionary<CommerceErrorCode, int>();
var started = TimeProvider.System.GetTimestamp();
await Parallel.ForEachAsync(
    Enumerable.Range(0, Buyers),
    new ParallelOptions { MaxDegreeOfParallelism = Math.Max(4, Environment.ProcessorCount * 4) },
    async (i, ct) =>
    {
        var result = await orders.PlaceOrderAsync(new UserId(10_000 + i), [new(limited, 1)], ct);
        if (result.IsSuccess)
        {
            Interlocked.Increment(ref succeeded);
        }
        else
        {
            refusals.AddOrUpdate(result.Error.Code, 1, (_, n) => n + 1);
        }
    });
var elapsed = TimeProvider.System.GetElapsedTime(started);

var stockLeft = await StockOf(limited.Value);
var moneyLeft = Money.Zero;
for (var i = 0; i < Buyers; i++)
{
    moneyLeft += await wallets.GetBalanceAsync(new UserId(10_000 + i));
}

var moneyIn = budget * Buyers;
var revenue = unitPrice * succeeded;
var insufficientStock = refusals.GetValueOrDefault(CommerceErrorCode.InsufficientStock);
Console.WriteLine($"  {Buyers} buyers with {budget} each raced for {Units} units at {unitPrice} in {elapsed.TotalMilliseconds:F0} ms");
Console.WriteLine($"  orders placed:                  {succeeded}");
foreach (var (code, count) in refusals.OrderBy(r => r.Key))
{
    Console.WriteLine($"  refused with {code + ":",-18} {count}");
}

Console.WriteLine($"  stock left:                     {stockLeft}");
Console.WriteLine($"  money: {moneyIn} charged = {moneyLeft} in wallets + {revenue} spent: {(moneyLeft + revenue == moneyIn ? "conserved" : "NOT CONSERVED")}");

var invariantsHold = succeeded == Units
    && insufficientStock == Buyers - Units
    && refusals.Count == 1
    && stockLeft == 0
    && moneyLeft + revenue == moneyIn;
Console.WriteLine();
Console.WriteLine(invariantsHold
    ? "All invariants hold: exactly 100 orders, 900 refused for stock, stock 0, money conserved."
    : "INVARIANTS BROKEN.");
return invariantsHold ? 0 : 1;

// ---------------------------------------------------------------- helpers
async Task<int> StockOf(long id)
{
    var product = await catalog.GetProductAsync(new ProductId(id));
    return product.IsSuccess ? product.Value.Stock : -1;
}

static void Heading(string text)
{
    Console.WriteLine();
    Console.WriteLine(text);
    Console.WriteLine(new string('-', text.Length));
}

static void Show<T>(string action, Result<T> result, Func<T, string> describe)
{
    Console.WriteLine(result.IsSuccess
        ? $"{action}: ok, {describe(result.Value)}"
        : $"{action}: refused, {result.Error.Code} ({result.Error.Message})");
}

static void ShowText(string action, string text) => Console.WriteLine($"{action}: {text}");

static string Balance(Money balance) => $"balance {balance}";

static string Describe(object value) => value switch
{
    ProductSummary p => $"#{p.Id} {p.Name}, price {p.Price}, stock {p.Stock}",
    Order o => $"order {o.Id}, total {o.Total}, lines [{string.Join("; ", o.Lines.Select(l => $"product {l.ProductId} x{l.Quantity} at {l.UnitPrice} = {l.LineTotal}"))}]",
    CartView c => $"cart of user {c.UserId}: {c.Lines.Count} line(s), total {c.Total}",
    _ => $"{value}",
};

static void PrintCart(CartView cart)
{
    foreach (var line in cart.Lines)
    {
        Console.WriteLine($"    {line.Name,-12} {line.UnitPrice,8} x {line.Quantity,3} = {line.LineTotal,8}");
    }

    Console.WriteLine($"    {"Total",-12} {"",8}   {"",3}   {cart.Total,8}");
}
