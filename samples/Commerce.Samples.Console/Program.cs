// A walk through the Commerce library: wallets, catalog, orders, best-sellers, carts, idempotency keys,
// cancelling, checkout and the ledger, each with its success and failure branches, then 1,000 concurrent
// buyers racing for 100 units, then the events the run published. Every step that matters is checked;
// the exit code is 1 if a check fails.
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
using Commerce.Events;
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
var feed = services.GetRequiredService<ICommerceEventFeed>();

var failedChecks = new List<string>();

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

// ---------------------------------------------------------------- 6. Idempotency keys
Heading("6. Idempotency keys: a retried request is applied once");
var bobBefore = await wallets.GetBalanceAsync(bob);
var bobEntries = (await wallets.GetLedgerAsync(bob, 0, 1_000)).Count;
var topUp = new IdempotencyKey("top-up-0001");
var charged = await wallets.ChargeAsync(bob, new Money(500), topUp);
Show("User 2 charges 500 with key top-up-0001", charged, Balance);
var retried = await wallets.ChargeAsync(bob, new Money(500), topUp);
Show("User 2 retries it (same key, same amount)", retried, Balance);
Check(
    "the retry got the same answer and the charge was applied once",
    charged.IsSuccess && retried.IsSuccess && retried.Value == charged.Value
        && await wallets.GetBalanceAsync(bob) == bobBefore + new Money(500)
        && (await wallets.GetLedgerAsync(bob, 0, 1_000)).Count == bobEntries + 1);

var reused = await wallets.ChargeAsync(bob, new Money(900), topUp);
Show("User 2 charges 900 with the same key", reused, Balance);
Check("the reused key was refused and nothing changed", reused.Error?.Code == CommerceErrorCode.IdempotencyKeyReused
    && await wallets.GetBalanceAsync(bob) == bobBefore + new Money(500));

var emptyKey = await wallets.ChargeAsync(bob, new Money(100), new IdempotencyKey(""));
Show("User 2 charges 100 with an empty key", emptyKey, Balance);
Check("the empty key was refused", emptyKey.Error?.Code == CommerceErrorCode.InvalidIdempotencyKey);

var webcamsBefore = await StockOf(5);
var orderKey = new IdempotencyKey("order-0001");
var keyedOrder = await orders.PlaceOrderAsync(alice, [new(new ProductId(5), 1)], orderKey);
Show("User 1 buys a webcam with key order-0001", keyedOrder, Describe);
var keyedRetry = await orders.PlaceOrderAsync(alice, [new(new ProductId(5), 1)], orderKey);
Show("User 1 retries it", keyedRetry, Describe);
Check(
    "the retry answered with the same order and one webcam left the stock",
    keyedOrder.IsSuccess && keyedRetry.IsSuccess && keyedRetry.Value.Id == keyedOrder.Value.Id && await StockOf(5) == webcamsBefore - 1);

// ---------------------------------------------------------------- 7. Cancelling
Heading("7. Cancelling an order: refund and restock");
Check("the order of section 3 was placed, so it can be cancelled", placed.IsSuccess);
if (placed.IsSuccess)
{
    var order = placed.Value;
    var balanceBefore = await wallets.GetBalanceAsync(order.UserId);
    var stockBefore = new Dictionary<ProductId, int>();
    foreach (var line in order.Lines)
    {
        stockBefore[line.ProductId] = await StockOf(line.ProductId.Value);
    }

    var cancelled = await orders.CancelOrderAsync(order.Id);
    Show($"Cancel order {order.Id} of user {order.UserId}", cancelled, o => $"{o.Status} at {o.CancelledAt:HH:mm:ss}, total {o.Total}");
    var balanceAfter = await wallets.GetBalanceAsync(order.UserId);
    ShowText("  refund", $"balance {balanceBefore} -> {balanceAfter} (+{order.Total})");
    var restocked = true;
    foreach (var line in order.Lines)
    {
        var stockAfter = await StockOf(line.ProductId.Value);
        ShowText($"  restock of product {line.ProductId}", $"{stockBefore[line.ProductId]} -> {stockAfter} (+{line.Quantity})");
        restocked &= stockAfter == stockBefore[line.ProductId] + line.Quantity;
    }

    var ledger = await wallets.GetLedgerAsync(order.UserId, 0, 1_000);
    Check(
        "the order is cancelled, its total refunded (with a Refund entry) and every line restocked",
        cancelled.IsSuccess && cancelled.Value.Status == OrderStatus.Cancelled
            && balanceAfter == balanceBefore + order.Total && restocked
            && ledger[^1] is { Kind: LedgerEntryKind.Refund } refund && refund.OrderId == order.Id && refund.Amount == order.Total);

    var again = await orders.CancelOrderAsync(order.Id);
    Show("Cancel it again", again, Describe);
    Check("the second cancel was refused and refunded nothing", again.Error?.Code == CommerceErrorCode.OrderAlreadyCancelled
        && await wallets.GetBalanceAsync(order.UserId) == balanceAfter);
}

var unknownCancel = await orders.CancelOrderAsync(new OrderId(Guid.NewGuid()));
Show("Cancel an unknown order", unknownCancel, Describe);
Check("an unknown order cannot be cancelled", unknownCancel.Error?.Code == CommerceErrorCode.OrderNotFound);

// ---------------------------------------------------------------- 8. Checkout
Heading("8. Checkout: the cart becomes an order");
var carolCart = await carts.GetCartAsync(carol);
var carolBalance = await wallets.GetBalanceAsync(carol);
Console.WriteLine($"  The cart of user 3 (balance {carolBalance}):");
PrintCart(carolCart);
var checkedOut = await carts.CheckoutAsync(carol);
Show("User 3 checks out", checkedOut, Describe);
var carolCartAfter = await carts.GetCartAsync(carol);
ShowText("  cart after", Describe(carolCartAfter));
ShowText("  balance of user 3", $"{carolBalance} -> {await wallets.GetBalanceAsync(carol)}");
Check(
    "the order has the cart's lines and total, the cart is empty and the wallet paid",
    checkedOut.IsSuccess && checkedOut.Value.Total == carolCart.Total
        && checkedOut.Value.Lines.Select(l => (l.ProductId, l.Quantity)).SequenceEqual(carolCart.Lines.Select(l => (l.ProductId, l.Quantity)))
        && carolCartAfter.Lines.Count == 0
        && await wallets.GetBalanceAsync(carol) == carolBalance - carolCart.Total);

var emptyCheckout = await carts.CheckoutAsync(carol);
Show("User 3 checks out again (the cart is empty)", emptyCheckout, Describe);
Check("an empty cart cannot be checked out", emptyCheckout.Error?.Code == CommerceErrorCode.EmptyOrder);

await carts.AddItemAsync(bob, new ProductId(3), 1);
await carts.AddItemAsync(bob, new ProductId(4), 5);
var bobCart = await carts.GetCartAsync(bob);
var bobBalance = await wallets.GetBalanceAsync(bob);
var monitorsBefore = await StockOf(3);
Console.WriteLine($"  The cart of user 2 (balance {bobBalance}):");
PrintCart(bobCart);
var failedCheckout = await carts.CheckoutAsync(bob);
Show("User 2 checks out", failedCheckout, Describe);
var bobCartAfter = await carts.GetCartAsync(bob);
ShowText("  cart after", Describe(bobCartAfter));
Check(
    "the refused checkout left the cart, the wallet and the stock as they were",
    failedCheckout.Error?.Code == CommerceErrorCode.InsufficientBalance
        && bobCartAfter.Total == bobCart.Total && bobCartAfter.Lines.SequenceEqual(bobCart.Lines)
        && await wallets.GetBalanceAsync(bob) == bobBalance && await StockOf(3) == monitorsBefore);

// ---------------------------------------------------------------- 9. Ledger
Heading("9. The ledger of user 1, in pages of 4");
var entries = new List<LedgerEntry>();
for (var (afterSequence, pageNumber) = (0L, 1); ; pageNumber++)
{
    var page = await wallets.GetLedgerAsync(alice, afterSequence, limit: 4);
    Console.WriteLine($"  Page {pageNumber} (up to 4 entries after #{afterSequence}):");
    foreach (var entry in page)
    {
        var sign = entry.Kind == LedgerEntryKind.Payment ? "-" : "+";
        var about = entry.OrderId is { } id ? $"  order {id}" : "";
        Console.WriteLine($"    #{entry.Sequence,-3} {entry.Kind,-8} {sign + entry.Amount,9}  balance {entry.BalanceAfter,9}{about}");
    }

    entries.AddRange(page);
    if (page.Count < 4)
    {
        break;
    }

    afterSequence = page[^1].Sequence;
}

Check(
    "the entries are numbered 1, 2, 3, ... and sum to the balance",
    entries.Select(e => e.Sequence).SequenceEqual(Enumerable.Range(1, entries.Count).Select(i => (long)i))
        && SumOf(entries) == await wallets.GetBalanceAsync(alice)
        && entries[^1].BalanceAfter == await wallets.GetBalanceAsync(alice));

Console.WriteLine("  The orders of user 1, newest first:");
foreach (var order in await orders.ListOrdersAsync(alice, limit: 10))
{
    Console.WriteLine($"    {order.Id}  {order.Status,-9} total {order.Total,6}  placed {order.PlacedAt:HH:mm:ss.fff}");
}

// The events of sections 1 to 9, read before the race adds thousands more.
var (scripted, afterScripted) = await ReadEventsAsync(EventCursor.Start);

// ---------------------------------------------------------------- 10. Concurrency
Heading("10. 1,000 concurrent buyers, 100 units");
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

// Every wallet of the demo, its ledger and its orders: nothing is created or lost, refunds included.
var users = new[] { alice, bob, carol, dave }.Concat(Enumerable.Range(0, Buyers).Select(i => new UserId(10_000 + i)));
var (chargedIn, paid, refunded, inWallets, standing) = (Money.Zero, Money.Zero, Money.Zero, Money.Zero, Money.Zero);
var ledgersAgree = true;
foreach (var user in users)
{
    var ledger = await wallets.GetLedgerAsync(user, 0, 1_000);
    var balance = await wallets.GetBalanceAsync(user);
    ledgersAgree &= SumOf(ledger) == balance && (ledger.Count == 0 || ledger[^1].BalanceAfter == balance);
    chargedIn += Total(ledger, LedgerEntryKind.Charge);
    paid += Total(ledger, LedgerEntryKind.Payment);
    refunded += Total(ledger, LedgerEntryKind.Refund);
    inWallets += balance;
    foreach (var order in await orders.ListOrdersAsync(user, 1_000))
    {
        standing += order.Status == OrderStatus.Placed ? order.Total : Money.Zero;
    }
}

var shopConserved = chargedIn == inWallets + paid - refunded && paid - refunded == standing;
Console.WriteLine($"  all wallets: {chargedIn} charged = {inWallets} in wallets + {paid} paid - {refunded} refunded: {(shopConserved ? "conserved" : "NOT CONSERVED")}");
Console.WriteLine($"  orders that stand total {standing}; every balance is its charges + refunds - payments: {(ledgersAgree ? "yes" : "NO")}");

// ---------------------------------------------------------------- 11. Events
Heading("11. The events of this run, as a downstream system reads them");
Console.WriteLine($"  Sections 1 to 9 published {scripted.Count} events (each user's and each product's in commit order):");
foreach (var published in scripted)
{
    Console.WriteLine($"    {published.Position,-7} {published.At:HH:mm:ss.fff}  {DescribeEvent(published)}");
}

var (raced, _) = await ReadEventsAsync(afterScripted);
Console.WriteLine($"  Section 10 published {raced.Count} more:");
foreach (var group in raced.GroupBy(e => e.GetType().Name).OrderBy(g => g.Key, StringComparer.Ordinal))
{
    Console.WriteLine($"    {group.Key,-16} {group.Count()}");
}

// The events alone rebuild the money: every charge in, every order's total out, every refund back in.
var all = scripted.Concat(raced).ToList();
var rebuilt = Money.Zero;
foreach (var published in all)
{
    rebuilt += published switch
    {
        WalletCharged c => c.Amount,
        OrderPlaced o => Money.Zero - o.Total,
        OrderCancelled c => c.Refunded,
        _ => Money.Zero,
    };
}

Check("the events rebuild the money in every wallet", rebuilt == inWallets);
Check(
    "the race published one OrderPlaced per order placed and one StockDepleted for the limited edition",
    raced.OfType<OrderPlaced>().Count() == succeeded && raced.OfType<StockDepleted>().Count(d => d.ProductId == limited) == 1);

var invariantsHold = succeeded == Units
    && insufficientStock == Buyers - Units
    && refusals.Count == 1
    && stockLeft == 0
    && moneyLeft + revenue == moneyIn
    && shopConserved
    && ledgersAgree;
Console.WriteLine();
Console.WriteLine(invariantsHold
    ? "All invariants hold: exactly 100 orders, 900 refused for stock, stock 0, money conserved, every ledger sums to its balance."
    : "INVARIANTS BROKEN.");
Console.WriteLine(failedChecks.Count == 0
    ? "All checks of the scenarios passed."
    : $"{failedChecks.Count} check(s) FAILED: {string.Join("; ", failedChecks)}");
return invariantsHold && failedChecks.Count == 0 ? 0 : 1;

// ---------------------------------------------------------------- helpers
async Task<(List<CommerceEvent> Events, EventCursor Next)> ReadEventsAsync(EventCursor after)
{
    var events = new List<CommerceEvent>();
    while (true)
    {
        var page = await feed.ReadAsync(after, limit: 500);
        if (page.Events.Count == 0)
        {
            return (events, after);
        }

        events.AddRange(page.Events);
        after = page.Next;
    }
}

async Task<int> StockOf(long id)
{
    var product = await catalog.GetProductAsync(new ProductId(id));
    return product.IsSuccess ? product.Value.Stock : -1;
}

void Check(string what, bool ok)
{
    Console.WriteLine(ok ? $"  check: {what}: ok" : $"  CHECK FAILED: {what}");
    if (!ok)
    {
        failedChecks.Add(what);
    }
}

static Money Total(IEnumerable<LedgerEntry> entries, LedgerEntryKind kind) =>
    entries.Where(e => e.Kind == kind).Aggregate(Money.Zero, (sum, e) => sum + e.Amount);

static Money SumOf(IReadOnlyList<LedgerEntry> entries) =>
    Total(entries, LedgerEntryKind.Charge) + Total(entries, LedgerEntryKind.Refund) - Total(entries, LedgerEntryKind.Payment);

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
    Order o => $"order {o.Id}{(o.Status == OrderStatus.Cancelled ? " (cancelled)" : "")}, total {o.Total}, lines [{string.Join("; ", o.Lines.Select(l => $"product {l.ProductId} x{l.Quantity} at {l.UnitPrice} = {l.LineTotal}"))}]",
    CartView c => $"cart of user {c.UserId}: {c.Lines.Count} line(s), total {c.Total}",
    _ => $"{value}",
};

static string DescribeEvent(CommerceEvent published) => published switch
{
    WalletCharged c => $"WalletCharged     user {c.UserId} +{c.Amount} → {c.BalanceAfter}",
    OrderPlaced o => $"OrderPlaced       user {o.UserId} order {o.OrderId} total {o.Total} ({o.Lines.Count} line(s))",
    OrderCancelled c => $"OrderCancelled    user {c.UserId} order {c.OrderId} refunded {c.Refunded}",
    ProductAdded a => $"ProductAdded      #{a.ProductId} {a.Name} at {a.Price}, stock {a.InitialStock}",
    ProductRestocked r => $"ProductRestocked  #{r.ProductId} +{r.Quantity} → {r.OnHandAfter}",
    StockDepleted d => $"StockDepleted     #{d.ProductId} by order {d.OrderId}",
    _ => published.ToString(),
};

static void PrintCart(CartView cart)
{
    foreach (var line in cart.Lines)
    {
        Console.WriteLine($"    {line.Name,-12} {line.UnitPrice,8} x {line.Quantity,3} = {line.LineTotal,8}");
    }

    Console.WriteLine($"    {"Total",-12} {"",8}   {"",3}   {cart.Total,8}");
}
