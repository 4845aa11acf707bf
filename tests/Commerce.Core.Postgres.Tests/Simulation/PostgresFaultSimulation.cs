using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Commerce.Postgres.Tests.Support;
using Commerce.Simulation;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Commerce.Postgres.Tests.Simulation;

/// <summary>What a simulation run did and checked.</summary>
/// <param name="Seed">The seed: the same seed replays the same workload and the same faults.</param>
/// <param name="Steps">Client steps taken (a request, or one retry of it).</param>
/// <param name="Operations">Requests completed with a known outcome.</param>
/// <param name="Terminations">Commits whose backend was terminated (<c>pg_terminate_backend</c>) just before the batch was sent.</param>
/// <param name="DropsBeforeSend">Commits whose connection the proxy dropped just before the batch was sent (half of them with new connections refused until the client saw the failure).</param>
/// <param name="DropsAfterReceipt">Commits whose connection the proxy dropped right after the server received the whole batch (half of them likewise).</param>
/// <param name="Restarts">Commits during which the server was restarted as after a crash.</param>
/// <param name="ClientFaults">Requests that ended in an exception at the client (outcome unknown, connection broken), resolved by a retry or a read.</param>
/// <param name="Retries">Requests repeated after a fault (with the same idempotency key, where they have one).</param>
/// <param name="Checks">Invariant checks made (each one over the whole shop).</param>
/// <param name="Transcript">A digest of every client's history (requests, outcomes, failures, resolutions): equal runs have equal digests.</param>
internal sealed record PostgresSimulationReport(
    int Seed, int Steps, int Operations, int Terminations, int DropsBeforeSend, int DropsAfterReceipt, int Restarts, int ClientFaults, int Retries, int Checks, string Transcript)
{
    public int Faults => Terminations + DropsBeforeSend + DropsAfterReceipt + Restarts;

    public override string ToString() =>
        $"seed {Seed}: {Steps:N0} steps, {Operations:N0} operations, {Faults:N0} faults ({Terminations} backends terminated, {DropsBeforeSend} connections dropped before the commit was sent, " +
        $"{DropsAfterReceipt} after the server received it, {Restarts} server restarts), {ClientFaults:N0} failures seen by clients, {Retries:N0} retries, {Checks:N0} invariant checks; transcript {Transcript}";
}

/// <summary>A simulation found an invariant broken; the message names the seed that replays it.</summary>
internal sealed class PostgresSimulationFailure(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A seeded fault simulation of the PostgreSQL store, the counterpart of the in-memory store's one: the test
/// thread plays several clients (keyed charges, keyed orders, cancels, carts and keyed checkouts, restocks),
/// one request at a time, in an order drawn from the seed, against a server of its own reached through a
/// <see cref="TcpProxy"/>. Just before a commit's batch is sent, a fault drawn from the seed may strike:
/// the session's backend is terminated, the proxy drops the connection, the proxy drops it right after the
/// server received the whole batch (which then commits unseen), either of them perhaps refusing new
/// connections until the client has seen the failure (so that the store cannot look the outcome up), or,
/// once per run, the server is restarted as after a crash. A client whose request failed retries it with its idempotency key (a cancel is safe to
/// repeat); for a request without one (an item added to a cart, a restock) it learns by reading whether it
/// applied. Every 100 steps, once no request is in doubt, and at the end, the whole shop is checked: money
/// and stock conserved, the ledger and the ranking agree with the orders, every client's last known outcome
/// is true, and nothing applied twice. One request at a time, and every dropped commit run to its end before
/// anything reads, make the outcome of each fault, and so the whole run, a function of the seed.
/// </summary>
internal sealed class PostgresFaultSimulation : IAsyncDisposable
{
    private const int Products = 8;
    private const long InitialStock = 300;
    private const int CheckEvery = 100;
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 9, 0, 0, TimeSpan.Zero);

    private readonly int _seed;
    private readonly Random _random;
    private readonly double _faultRate;
    private readonly bool _forgetful;
    private readonly ThrowAwayPostgres _server;
    private readonly TcpProxy _proxy;
    private readonly ServiceProvider _provider;
    private readonly PostgresCommerceStore _store;
    private readonly IWalletService _wallets;
    private readonly Events.ICommerceEventFeed _feed;
    private readonly IOrderService _orders;
    private readonly ICartService _carts;
    private readonly ICatalogService _catalog;
    private readonly ISalesRankingService _ranking;
    private readonly Client[] _clients;
    private readonly long[] _restocked = new long[Products + 1];
    private bool _armed;
    private int _restartAt = -1;
    private int _steps;
    private int _operations;
    private int _terminations;
    private int _dropsBeforeSend;
    private int _dropsAfterReceipt;
    private int _restarts;
    private int _clientFaults;
    private int _retries;
    private int _checks;
    private long _keys;

    private PostgresFaultSimulation(int seed, int clients, double faultRate, bool forgetful, ThrowAwayPostgres server)
    {
        _seed = seed;
        _forgetful = forgetful;
        _random = new Random(seed);
        _faultRate = faultRate;
        _server = server;
        _proxy = new TcpProxy(server.ConnectionString);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(new FixedClock(Start));
        services.AddCommerce(o => o.MaxCommitAttempts = 1_000).UsePostgresStore(o =>
        {
            // A connection per session (no pool): a drop or a restart breaks only the connection in use,
            // and no stale pooled connection makes the run depend on what the pool held.
            o.ConnectionString = _proxy.ConnectionString + ";Pooling=false;Application Name=commerce-simulation";
            o.Schema = "sim";
        });
        _provider = services.BuildServiceProvider();
        _store = _provider.GetRequiredService<PostgresCommerceStore>();
        _wallets = _provider.GetRequiredService<IWalletService>();
        _feed = _provider.GetRequiredService<Events.ICommerceEventFeed>();
        _orders = _provider.GetRequiredService<IOrderService>();
        _carts = _provider.GetRequiredService<ICartService>();
        _catalog = _provider.GetRequiredService<ICatalogService>();
        _ranking = _provider.GetRequiredService<ISalesRankingService>();
        _clients = Enumerable.Range(1, clients).Select(i => new Client(new UserId(i))).ToArray();
        _store.BeforeCommit = StrikeAsync;

        // No traffic of the store's own between the clients' requests: the notifications that wake waiters
        // for events go out in the background, through the proxy, where a fault meant for a commit could
        // strike them instead, and the same seed would no longer replay the same faults. Nothing here
        // waits for events (the audit reads them), so the notifier is stopped before the run.
        _store.Notifier.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>A simulation on a new throw-away server of its own (restarted during the run), which it stops when disposed.</summary>
    /// <param name="seed">The seed of the workload and of the faults.</param>
    /// <param name="clients">How many clients (each a user with a wallet and a cart).</param>
    /// <param name="faultRate">The chance that a fault strikes a commit.</param>
    /// <param name="forgetful">
    /// A broken client, for the checks' own test: it takes a failed keyed request for one that did not apply,
    /// and never retries it.
    /// </param>
    public static PostgresFaultSimulation Create(int seed, int clients = 6, double faultRate = 0.08, bool forgetful = false)
    {
        var binaries = ServerBinaries.PostgresOnThisMachine() ?? throw new InvalidOperationException(TestDatabase.SkipReasonFor(null, null));
        return new PostgresFaultSimulation(seed, clients, faultRate, forgetful, ThrowAwayPostgres.Start(binaries, maxConnections: 50));
    }

    /// <summary>Runs <paramref name="steps"/> client steps, checking the shop as it goes and at the end.</summary>
    /// <exception cref="PostgresSimulationFailure">An invariant broke, or a request failed in a way no client can handle (the message names the seed).</exception>
    public async Task<PostgresSimulationReport> RunAsync(int steps)
    {
        try
        {
            await _provider.EnsureCommerceSchemaAsync();
            for (var p = 1; p <= Products; p++)
            {
                Ok(await _catalog.AddProductAsync(new ProductId(p), $"Product {p}", new Money(5 + (p * 7 % 40)), (int)InitialStock));
            }

            _restartAt = steps >= 20 ? _random.Next(steps / 4, (3 * steps / 4) + 1) : -1;
            _armed = true;
            for (_steps = 0; _steps < steps; _steps++)
            {
                await StepAsync(_clients[_random.Next(_clients.Length)]);
                if ((_steps + 1) % CheckEvery == 0)
                {
                    // A request in doubt makes the shop and its client disagree until the client retries it.
                    await SettleAsync();
                    _proxy.Restore();
                    await CheckAsync();
                }
            }

            await SettleAsync();
            _armed = false;
            _proxy.Restore();
            await CheckAsync();
            var transcript = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", _clients.Select(c => string.Join("\n", c.History))))))[..16];
            return new PostgresSimulationReport(_seed, _steps, _operations, _terminations, _dropsBeforeSend, _dropsAfterReceipt, _restarts, _clientFaults, _retries, _checks, transcript);
        }
        catch (Exception e) when (e is not PostgresSimulationFailure)
        {
            throw new PostgresSimulationFailure($"seed {_seed}, step {_steps}: {e.GetType().Name}: {e.Message}\n{History()}", e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _provider.DisposeAsync();
            await _proxy.DisposeAsync();
        }
        finally
        {
            _server.Dispose();
        }
    }

    /// <summary>Lets every client retry its request in doubt until it knows the outcome.</summary>
    private async Task SettleAsync()
    {
        foreach (var client in _clients)
        {
            while (client.Pending is not null)
            {
                await StepAsync(client);
            }
        }
    }

    /// <summary>The store's before-commit seam: sometimes a fault strikes the commit about to be sent.</summary>
    private async Task StrikeAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        if (!_armed)
        {
            return;
        }

        if (_restartAt >= 0 && _steps >= _restartAt)
        {
            _restartAt = -1;
            _restarts++;
            _server.RestartAfterCrash();
            return;
        }

        if (_random.NextDouble() >= _faultRate)
        {
            return;
        }

        // With new connections refused until the client has seen the failure, the store cannot look up
        // the outcome of a dropped commit: the client is told it is unknown, and retries later.
        var refuse = _random.Next(2) == 0;
        switch (_random.Next(3))
        {
            case 0:
                _terminations++;
                await TerminateAsync(connection.ProcessID);
                break;
            case 1:
                _dropsBeforeSend++;
                _proxy.Drop(refuse);
                await _proxy.DroppedClosedAsync();
                break;
            default:
                _dropsAfterReceipt++;
                _proxy.DropAfterNextSync(refuse);
                break;
        }
    }

    /// <summary>Terminates a backend from a connection straight to the server, and waits until it is gone.</summary>
    private async Task TerminateAsync(int pid)
    {
        await using var connection = new NpgsqlConnection(_server.ConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_terminate_backend($1, 10000)", connection);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = pid });
        await command.ExecuteScalarAsync();
    }

    private async Task StepAsync(Client client)
    {
        _proxy.Restore();
        var request = client.Pending;
        if (request is null)
        {
            request = NewRequest(client);
            await request.PrepareAsync(this, client);
            client.Pending = request;
        }

        if (request.Attempts++ > 0)
        {
            _retries++;
        }

        client.History.Add($"{_steps}: {request}{(request.Attempts > 1 ? " (retry)" : "")}");
        try
        {
            await request.RunAsync(this, client);
            client.Pending = null;
            _operations++;
        }
        catch (Exception e) when (IsFault(e))
        {
            _clientFaults++;
            client.History.Add($"{_steps}: failed with {e.GetType().Name}");

            // A commit the proxy dropped after the server received it may still be running: let it end first.
            _proxy.Restore();
            await _proxy.DroppedClosedAsync();
            if (!request.Retries || _forgetful)
            {
                await request.ResolveAsync(this, client);
                client.Pending = null;
                _operations++;
            }
        }
    }

    /// <summary>What a client can meet when a fault struck its request: nothing else is acceptable.</summary>
    private static bool IsFault(Exception e) =>
        e is CommitOutcomeUnknownException or StoreUnavailableException or NpgsqlException or IOException or SocketException;

    private Request NewRequest(Client client)
    {
        var roll = _random.Next(100);
        return roll switch
        {
            < 25 => new Charge(NextKey(), new Money(_random.Next(1, 400))),
            < 55 => new PlaceOrder(NextKey(), RandomLines()),
            < 65 when client.Live.Count > 0 => new Cancel(client.Live[_random.Next(client.Live.Count)], client),
            < 80 => new AddToCart(new ProductId(_random.Next(1, Products + 1)), _random.Next(1, 3)),
            < 92 => new Checkout(NextKey()),
            _ => new Restock(new ProductId(_random.Next(1, Products + 1)), _random.Next(1, 30)),
        };
    }

    private IdempotencyKey NextKey() => new($"sim-{_seed}-{++_keys}");

    private OrderLineRequest[] RandomLines()
    {
        var lines = new OrderLineRequest[_random.Next(1, 4)];
        for (var i = 0; i < lines.Length; i++)
        {
            lines[i] = new OrderLineRequest(new ProductId(_random.Next(1, Products + 1)), _random.Next(1, 4));
        }

        return lines;
    }

    // ---- the invariants -----------------------------------------------------------------------

    private async Task CheckAsync()
    {
        _checks++;
        long charged = 0, paid = 0, refunded = 0, balances = 0, placedCount = 0;
        var liveUnits = new long[Products + 1];
        var events = await EventAudit.ReadAsync(_feed, Expect);
        foreach (var client in _clients)
        {
            // The ledger: gapless, each entry's balance after follows from the one before, the last is the balance.
            var ledger = new List<LedgerEntry>();
            while (true)
            {
                var page = await _wallets.GetLedgerAsync(client.User, ledger.Count, 1_000);
                if (page.Count == 0)
                {
                    break;
                }

                ledger.AddRange(page);
            }

            var balance = await _wallets.GetBalanceAsync(client.User);
            var (clientCharged, clientPaid, clientRefunded) = LedgerAudit.Check(
                client.User, ledger, balance, client.Charges, client.Live, client.Cancelled, Expect);
            events.CheckUser(client.User, ledger, Expect);
            balances += balance.Amount;
            charged += clientCharged;
            paid += clientPaid;
            refunded += clientRefunded;

            // The store's copy of every order the client was told about: as told, with the status it believes.
            var placed = client.Live.Concat(client.Cancelled).ToList();
            placedCount += placed.Count;
            foreach (var order in placed)
            {
                var stored = await _orders.GetOrderAsync(order.Id);
                Expect(stored.IsSuccess && stored.Value.Lines.SequenceEqual(order.Lines) && stored.Value.Total == order.Total, $"order {order.Id}: the store's differs from what the client was told");
                var cancelled = client.Cancelled.Contains(order);
                Expect(stored.Value.Status == (cancelled ? OrderStatus.Cancelled : OrderStatus.Placed), $"order {order.Id}: status {stored.Value.Status}, the client believes {(cancelled ? "cancelled" : "placed")}");
            }

            foreach (var order in client.Live)
            {
                foreach (var line in order.Lines)
                {
                    liveUnits[line.ProductId.Value] += line.Quantity;
                }
            }

            var listed = await _orders.ListOrdersAsync(client.User, 1_000);
            Expect(listed.Count == Math.Min(1_000, placed.Count), $"user {client.User}: {listed.Count} orders listed, {placed.Count} placed");

            // The cart is what the client knows it put there.
            var cart = await _carts.GetCartAsync(client.User);
            Expect(cart.Lines.Sum(l => l.Quantity) == client.CartUnits, $"user {client.User}: {cart.Lines.Sum(l => l.Quantity)} units in the cart, the client knows {client.CartUnits}");
        }

        // Money: every unit charged is in a balance or was paid and not refunded.
        Expect(charged == balances + paid - refunded, $"money: charged {charged} ≠ balances {balances} + paid {paid} − refunded {refunded}");

        // No order the clients do not know of, under any user.
        var storedOrders = await ScalarAsync("SELECT count(*) FROM sim.orders");
        Expect(storedOrders == placedCount, $"{storedOrders} orders stored, the clients placed {placedCount}");

        // Stock and the ranking: every unit is on hand, or in an order that stands (and counted sold).
        var popular = await _ranking.GetPopularProductsAsync(Products, TimeSpan.FromDays(1));
        for (var p = 1; p <= Products; p++)
        {
            var stock = Ok(await _catalog.GetProductAsync(new ProductId(p))).Stock;
            events.CheckProduct(new ProductId(p), stock, Expect);
            Expect(stock + liveUnits[p] == InitialStock + _restocked[p], $"product {p}: {stock} on hand + {liveUnits[p]} sold ≠ {InitialStock} + {_restocked[p]} restocked");
            var sold = popular.FirstOrDefault(x => x.ProductId.Value == p)?.QuantitySold ?? 0;
            Expect(sold == liveUnits[p], $"product {p}: the ranking says {sold} sold, the standing orders hold {liveUnits[p]}");
        }
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_server.ConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private void Expect(bool holds, string what)
    {
        if (!holds)
        {
            throw new PostgresSimulationFailure($"seed {_seed}, step {_steps}: {what}\n{History()}");
        }
    }

    private string History() => string.Join("\n", _clients.Select(c => $"  user {c.User}: " + string.Join("; ", c.History.TakeLast(40))));

    private static T Ok<T>(Result<T> result) =>
        result.IsSuccess ? result.Value : throw new InvalidOperationException($"unexpected refusal: {result.Error.Code}: {result.Error.Message}");

    /// <summary>A refusal no request expects, or one that says the store refused it for now (a fault: retried, or resolved by reading).</summary>
    private void ExpectRefusal(CommerceError error, string what, params CommerceErrorCode[] expected)
    {
        if (error.Code == CommerceErrorCode.StoreUnavailable)
        {
            throw new StoreUnavailableException(error.Message);
        }

        Expect(expected.Contains(error.Code), $"{what} refused with {error.Code}: {error.Message}");
    }

    // ---- clients and their requests -----------------------------------------------------------------

    private sealed class Client(UserId user)
    {
        public UserId User { get; } = user;

        public Request? Pending { get; set; }

        public List<(long Amount, long BalanceAfter)> Charges { get; } = [];

        public List<Order> Live { get; } = [];

        public List<Order> Cancelled { get; } = [];

        /// <summary>The orders the client placed, in order (an order's position names it in the history, which must not depend on random ids).</summary>
        public List<OrderId> Placed { get; } = [];

        public int CartUnits { get; set; }

        /// <summary>What the client did, for the failure message.</summary>
        public List<string> History { get; } = [];
    }

    private abstract class Request
    {
        public int Attempts { get; set; }

        /// <summary>Whether the client repeats the request after a fault (a keyed or repeatable request); otherwise it reads what happened.</summary>
        public virtual bool Retries => true;

        /// <summary>What the client notes before the first attempt.</summary>
        public virtual Task PrepareAsync(PostgresFaultSimulation sim, Client client) => Task.CompletedTask;

        public abstract Task RunAsync(PostgresFaultSimulation sim, Client client);

        /// <summary>How a client that does not retry learns whether its failed request applied.</summary>
        public virtual Task ResolveAsync(PostgresFaultSimulation sim, Client client) => Task.CompletedTask;
    }

    private sealed class Charge(IdempotencyKey key, Money amount) : Request
    {
        public override string ToString() => $"charge {amount} [{key.Value}]";

        public override async Task RunAsync(PostgresFaultSimulation sim, Client client)
        {
            var result = await sim._wallets.ChargeAsync(client.User, amount, key);
            client.History.Add(result.IsSuccess ? $"  balance {result.Value}" : $"  refused: {result.Error.Code}");
            if (result.IsSuccess)
            {
                client.Charges.Add((amount.Amount, result.Value.Amount));
            }
            else
            {
                sim.ExpectRefusal(result.Error, "charge", CommerceErrorCode.BalanceLimitExceeded);
            }
        }
    }

    private sealed class PlaceOrder(IdempotencyKey key, OrderLineRequest[] lines) : Request
    {
        public override string ToString() => $"order {string.Join("+", lines.Select(l => $"{l.Quantity}×{l.ProductId}"))} [{key.Value}]";

        public override async Task RunAsync(PostgresFaultSimulation sim, Client client) =>
            Record(sim, client, await sim._orders.PlaceOrderAsync(client.User, lines, key));

        public static void Record(PostgresFaultSimulation sim, Client client, Result<Order> result)
        {
            if (result.IsSuccess)
            {
                // A repeat returns the order again: count it once.
                if (!client.Placed.Contains(result.Value.Id))
                {
                    client.Live.Add(result.Value);
                    client.Placed.Add(result.Value.Id);
                }

                client.History.Add($"  placed #{client.Placed.IndexOf(result.Value.Id) + 1}, total {result.Value.Total}");
            }
            else
            {
                client.History.Add($"  refused: {result.Error.Code}");
                sim.ExpectRefusal(result.Error, "order", CommerceErrorCode.InsufficientBalance, CommerceErrorCode.InsufficientStock, CommerceErrorCode.EmptyOrder);
            }
        }
    }

    private sealed class Checkout(IdempotencyKey key) : Request
    {
        public override string ToString() => $"checkout [{key.Value}]";

        public override async Task RunAsync(PostgresFaultSimulation sim, Client client)
        {
            var result = await sim._carts.CheckoutAsync(client.User, key);
            PlaceOrder.Record(sim, client, result);
            if (result.IsSuccess)
            {
                client.CartUnits = 0;
            }
        }
    }

    /// <summary>Cancelling has no key; it is safe to repeat (a second cancel says it is cancelled already).</summary>
    private sealed class Cancel(Order order, Client owner) : Request
    {
        public override string ToString() => $"cancel #{owner.Placed.IndexOf(order.Id) + 1}";

        public override async Task RunAsync(PostgresFaultSimulation sim, Client client)
        {
            var result = await sim._orders.CancelOrderAsync(order.Id);
            client.History.Add(result.IsSuccess ? "  cancelled" : $"  refused: {result.Error.Code}");
            if (result.IsSuccess || (Attempts > 1 && result.Error.Code == CommerceErrorCode.OrderAlreadyCancelled))
            {
                client.Live.Remove(order);
                client.Cancelled.Add(order);
                return;
            }

            sim.ExpectRefusal(result.Error, "cancel", CommerceErrorCode.BalanceLimitExceeded);
        }
    }

    /// <summary>Adding to a cart has no key and is not safe to repeat: after a fault the client reads whether it applied.</summary>
    private sealed class AddToCart(ProductId product, int quantity) : Request
    {
        public override string ToString() => $"add {quantity}×{product} to the cart";

        public override bool Retries => false;

        public override async Task RunAsync(PostgresFaultSimulation sim, Client client)
        {
            var result = await sim._carts.AddItemAsync(client.User, product, quantity);
            if (result.IsSuccess)
            {
                client.CartUnits += quantity;
            }
            else
            {
                sim.ExpectRefusal(result.Error, "add to cart", CommerceErrorCode.TooManyLines);
            }
        }

        public override async Task ResolveAsync(PostgresFaultSimulation sim, Client client)
        {
            var before = client.CartUnits;
            var now = (await sim._carts.GetCartAsync(client.User)).Lines.Sum(l => l.Quantity);
            sim.Expect(now == before || now == before + quantity, $"user {client.User}: after a failed add the cart holds {now} units, not {before} or {before + quantity}");
            client.History.Add($"{sim._steps}: the add {(now == before ? "did not apply" : "applied")}");
            client.CartUnits = now;
        }
    }

    /// <summary>
    /// Restocking has no key either: the admin notes the stock before the first attempt and, after a fault,
    /// reads it again. Only this request runs meanwhile, and every earlier commit has ended, so the stock
    /// moved by the restock's quantity or not at all.
    /// </summary>
    private sealed class Restock(ProductId product, int quantity) : Request
    {
        private int _before;

        public override string ToString() => $"restock {quantity}×{product}";

        public override bool Retries => false;

        public override async Task PrepareAsync(PostgresFaultSimulation sim, Client client) =>
            _before = Ok(await sim._catalog.GetProductAsync(product)).Stock;

        public override async Task RunAsync(PostgresFaultSimulation sim, Client client)
        {
            var summary = Ok(await sim._catalog.RestockAsync(product, quantity));
            sim.Expect(summary.Stock == _before + quantity, $"restock of {quantity}×{product}: stock {summary.Stock}, was {_before}");
            sim._restocked[product.Value] += quantity;
        }

        public override async Task ResolveAsync(PostgresFaultSimulation sim, Client client)
        {
            var now = Ok(await sim._catalog.GetProductAsync(product)).Stock;
            sim.Expect(now == _before || now == _before + quantity, $"after a failed restock of {quantity}×{product} the stock is {now}, not {_before} or {_before + quantity}");
            client.History.Add($"{sim._steps}: the restock {(now == _before ? "did not apply" : "applied")}");
            if (now != _before)
            {
                sim._restocked[product.Value] += quantity;
            }
        }
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
