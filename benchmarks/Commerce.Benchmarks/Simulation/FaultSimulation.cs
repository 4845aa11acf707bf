using Commerce.InMemory;
using Commerce.InMemory.LockFree;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Simulation;

/// <summary>What a simulation run did and checked.</summary>
/// <param name="Seed">The seed: the same seed replays the same run, step for step.</param>
/// <param name="Steps">Client steps taken (an operation, or one retry of it).</param>
/// <param name="Operations">Operations completed with a known outcome.</param>
/// <param name="Faults">Commits abandoned between installing their descriptor and deciding it.</param>
/// <param name="LateFinishes">Abandoned commits whose owner came back later and ran its commit to the end.</param>
/// <param name="Retries">Keyed requests repeated after a fault.</param>
/// <param name="Checks">Invariant checks made (each one an assertion over the whole shop).</param>
internal sealed record SimulationReport(int Seed, int Steps, int Operations, int Faults, int LateFinishes, int Retries, int Checks)
{
    public override string ToString() =>
        $"seed {Seed}: {Steps:N0} steps, {Operations:N0} operations, {Faults:N0} faults injected, {LateFinishes:N0} late finishes, {Retries:N0} keyed retries, {Checks:N0} invariant checks";
}

/// <summary>A simulation found an invariant broken; the message names the seed that replays it.</summary>
internal sealed class SimulationFailure(string message) : Exception(message);

/// <summary>
/// A seeded fault simulation of the in-memory store, after the deterministic simulators of TigerBeetle
/// and FoundationDB: one thread plays many clients (charges, orders, cancels, cart checkouts, restocks)
/// in an order drawn from the seed, and at every step of every commit a fault may strike: the committing
/// client dies right after installing its descriptor in one of its cells, before the decision (the cells
/// keep the undecided descriptor; whoever meets it next must finish it). A client whose request died
/// retries it with the same idempotency key (or, for requests without a key, learns what happened by
/// reading); some dead commits are later run to the end by their owner, as a thread that was only paused
/// would. Every few hundred steps and at the end, the whole shop is checked: money and stock conserved,
/// the ledger and the ranking agree with the orders, every client's last known outcome is true, and
/// nothing applied twice. Everything random comes from the seed, so a failure replays exactly.
/// </summary>
internal sealed class FaultSimulation
{
    private const int Products = 12;
    private const long InitialStock = 400;
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 9, 0, 0, TimeSpan.Zero);

    private readonly int _seed;
    private readonly Random _random;
    private readonly double _faultRate;
    private readonly Client[] _clients;
    private readonly ServiceProvider _provider;
    private readonly InMemoryCommerceStore _store;
    private readonly IWalletService _wallets;
    private readonly Events.ICommerceEventFeed _feed;
    private readonly IOrderService _orders;
    private readonly ICartService _carts;
    private readonly ICatalogService _catalog;
    private readonly ISalesRankingService _ranking;
    private readonly long[] _restocked = new long[Products + 1];
    private readonly List<CommitDescriptor> _abandoned = [];
    private bool _armed;
    private CommitDescriptor? _crashed;
    private int _steps;
    private int _operations;
    private int _faults;
    private int _lateFinishes;
    private int _retries;
    private int _checks;
    private long _keys;

    public FaultSimulation(int seed, int clients = 8, double faultRate = 0.05)
    {
        _seed = seed;
        _random = new Random(seed);
        _faultRate = faultRate;
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(new FixedClock(Start));
        services.AddCommerce(o => o.MaxCommitAttempts = 1_000).UseInMemoryStore();
        _provider = services.BuildServiceProvider();
        _store = (InMemoryCommerceStore)_provider.GetRequiredService<Storage.ICommerceStore>();
        _wallets = _provider.GetRequiredService<IWalletService>();
        _feed = _provider.GetRequiredService<Events.ICommerceEventFeed>();
        _orders = _provider.GetRequiredService<IOrderService>();
        _carts = _provider.GetRequiredService<ICartService>();
        _catalog = _provider.GetRequiredService<ICatalogService>();
        _ranking = _provider.GetRequiredService<ISalesRankingService>();
        _clients = Enumerable.Range(1, clients).Select(i => new Client(new UserId(i))).ToArray();
        _store.AfterInstall = Strike;
    }

    /// <summary>Runs <paramref name="steps"/> client steps, checking the shop as it goes and at the end.</summary>
    /// <exception cref="SimulationFailure">An invariant broke (the message names the seed).</exception>
    public SimulationReport Run(int steps)
    {
        try
        {
            for (var p = 1; p <= Products; p++)
            {
                Ok(Wait(_catalog.AddProductAsync(new ProductId(p), $"Product {p}", new Money(5 + (p * 7 % 40)), (int)InitialStock)));
            }

            _armed = true;
            for (_steps = 0; _steps < steps; _steps++)
            {
                Step(_clients[_random.Next(_clients.Length)]);
                if (_abandoned.Count > 0 && _random.NextDouble() < 0.1)
                {
                    FinishLate();
                }

                if ((_steps + 1) % 250 == 0)
                {
                    // A request in doubt makes the shop and its client disagree until the client retries it.
                    Settle();
                    Check();
                }
            }

            _armed = false;
            while (_abandoned.Count > 0)
            {
                FinishLate();
            }

            Settle();
            Check();
            return new SimulationReport(_seed, _steps, _operations, _faults, _lateFinishes, _retries, _checks);
        }
        catch (Exception e) when (e is not SimulationFailure)
        {
            throw new SimulationFailure($"seed {_seed}, step {_steps}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
        }
        finally
        {
            _provider.Dispose();
        }
    }

    /// <summary>Lets every client retry its request in doubt until it knows the outcome.</summary>
    private void Settle()
    {
        foreach (var client in _clients)
        {
            while (client.Pending is not null)
            {
                Step(client);
            }
        }
    }

    /// <summary>The after-install hook: sometimes the committing client dies here, leaving its descriptor undecided.</summary>
    private void Strike(CommitDescriptor descriptor, int installed)
    {
        if (_armed && _crashed is null && _random.NextDouble() < _faultRate)
        {
            _crashed = descriptor;
            _faults++;
            throw new ClientDied();
        }
    }

    /// <summary>A dead commit's owner comes back and runs it to the end (helping, deciding, cleaning up): it must change nothing.</summary>
    private void FinishLate()
    {
        var at = _random.Next(_abandoned.Count);
        var descriptor = _abandoned[at];
        _abandoned.RemoveAt(at);
        var decided = descriptor.Status;
        var outcome = MultiWordCas.Commit(descriptor);
        if (decided != CommitStatus.Active && outcome != (decided == CommitStatus.Succeeded))
        {
            Fail($"a late finish turned a decided commit ({decided}) into {(outcome ? "success" : "failure")}");
        }

        _lateFinishes++;
    }

    private void Step(Client client)
    {
        var request = client.Pending ?? NewRequest(client);
        client.Pending = request;
        if (request.Attempts++ > 0)
        {
            _retries++;
        }

        _crashed = null;
        client.History.Add($"{_steps}: {request}{(request.Attempts > 1 ? " (retry)" : "")}");
        try
        {
            request.Run(this, client);
            client.Pending = null;
            _operations++;
        }
        catch (ClientDied)
        {
            var descriptor = _crashed!;
            _crashed = null;
            _abandoned.Add(descriptor);
            request.Died(this, client, descriptor);
            if (!request.Retries)
            {
                client.Pending = null;
                _operations++;
            }
        }
    }

    private Request NewRequest(Client client)
    {
        var roll = _random.Next(100);
        return roll switch
        {
            < 25 => new Charge(NextKey(), new Money(_random.Next(1, 400))),
            < 55 => new PlaceOrder(NextKey(), RandomLines()),
            < 65 when client.Live.Count > 0 => new Cancel(client.Live[_random.Next(client.Live.Count)].Id),
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

    private void Check()
    {
        _checks++;
        long charged = 0, paid = 0, refunded = 0, balances = 0;
        var liveUnits = new long[Products + 1];
        var events = EventAudit.ReadAsync(_feed, Expect).GetAwaiter().GetResult();
        foreach (var client in _clients)
        {
            // The ledger: gapless, each entry's balance after follows from the one before, the last is the balance.
            var ledger = new List<LedgerEntry>();
            while (true)
            {
                var page = Wait(_wallets.GetLedgerAsync(client.User, ledger.Count, 1_000));
                if (page.Count == 0)
                {
                    break;
                }

                ledger.AddRange(page);
            }

            var balance = Wait(_wallets.GetBalanceAsync(client.User));
            var (clientCharged, clientPaid, clientRefunded) = LedgerAudit.Check(
                client.User, ledger, balance, client.Charges, client.Live, client.Cancelled, Expect);
            events.CheckUser(client.User, ledger, Expect);
            balances += balance.Amount;
            charged += clientCharged;
            paid += clientPaid;
            refunded += clientRefunded;

            // The store's copy of every order the client was told about: as told, with the status it believes.
            var placed = client.Live.Concat(client.Cancelled).ToList();
            foreach (var order in placed)
            {
                var stored = Wait(_orders.GetOrderAsync(order.Id));
                Expect(stored.IsSuccess && stored.Value.Lines.SequenceEqual(order.Lines) && stored.Value.Total == order.Total, $"order {order.Id}: the store's differs from what the client was told");
                var cancelled = client.Cancelled.Contains(order);
                Expect(stored.IsSuccess && stored.Value.Status == (cancelled ? OrderStatus.Cancelled : OrderStatus.Placed), $"order {order.Id}: status {stored.Value.Status}, the client believes {(cancelled ? "cancelled" : "placed")}");
            }

            foreach (var order in client.Live)
            {
                foreach (var line in order.Lines)
                {
                    liveUnits[line.ProductId.Value] += line.Quantity;
                }
            }

            var listed = Wait(_orders.ListOrdersAsync(client.User, 1_000));
            Expect(listed.Count == Math.Min(1_000, placed.Count), $"user {client.User}: {listed.Count} orders listed, {placed.Count} placed");

            // The cart is what the client knows it put there.
            var cart = Wait(_carts.GetCartAsync(client.User));
            Expect(cart.Lines.Sum(l => l.Quantity) == client.CartUnits, $"user {client.User}: {cart.Lines.Sum(l => l.Quantity)} units in the cart, the client knows {client.CartUnits}");
        }

        // Money: every unit charged is in a balance or was paid and not refunded.
        Expect(charged == balances + paid - refunded, $"money: charged {charged} ≠ balances {balances} + paid {paid} − refunded {refunded}");

        // Stock and the ranking: every unit is on hand, or in an order that stands (and counted sold).
        var popular = Wait(_ranking.GetPopularProductsAsync(Products, TimeSpan.FromDays(1)));
        for (var p = 1; p <= Products; p++)
        {
            var stock = Ok(Wait(_catalog.GetProductAsync(new ProductId(p)))).Stock;
            events.CheckProduct(new ProductId(p), stock, Expect);
            Expect(stock + liveUnits[p] == InitialStock + _restocked[p], $"product {p}: {stock} on hand + {liveUnits[p]} sold ≠ {InitialStock} + {_restocked[p]} restocked");
            var sold = popular.FirstOrDefault(x => x.ProductId.Value == p)?.QuantitySold ?? 0;
            Expect(sold == liveUnits[p], $"product {p}: the ranking says {sold} sold, the standing orders hold {liveUnits[p]}");
        }
    }

    private void Expect(bool holds, string what)
    {
        if (!holds)
        {
            Fail(what);
        }
    }

    private void Fail(string what) => throw new SimulationFailure(
        $"seed {_seed}, step {_steps}: {what}\n" + string.Join("\n", _clients.Select(c => $"  user {c.User}: " + string.Join("; ", c.History.TakeLast(12)))));

    private static T Ok<T>(Result<T> result) =>
        result.IsSuccess ? result.Value : throw new InvalidOperationException($"unexpected refusal: {result.Error.Code}: {result.Error.Message}");

    private static T Wait<T>(ValueTask<T> pending) => pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();

    /// <summary>Whether a dead commit applied: whoever meets its descriptor first finishes it, as a reader does here.</summary>
    private static bool Applied(CommitDescriptor descriptor)
    {
        var first = descriptor.InstalledAt(0); // a commit that died installed there at least
        _ = first is WordCell word ? MultiWordCas.ReadWord(word) : MultiWordCas.Read(first);
        return descriptor.Status == CommitStatus.Succeeded;
    }

    // ---- clients and their requests -----------------------------------------------------------------

    private sealed class Client(UserId user)
    {
        public UserId User { get; } = user;

        public Request? Pending { get; set; }

        public List<(long Amount, long BalanceAfter)> Charges { get; } = [];

        public List<Order> Live { get; } = [];

        public List<Order> Cancelled { get; } = [];

        public int CartUnits { get; set; }

        /// <summary>What the client did, for the failure message.</summary>
        public List<string> History { get; } = [];
    }

    private abstract class Request
    {
        public int Attempts { get; set; }

        /// <summary>Whether the client repeats the request after a fault (a keyed request); otherwise it learns the outcome by other means.</summary>
        public virtual bool Retries => true;

        public abstract void Run(FaultSimulation sim, Client client);

        /// <summary>What a client does when its request died mid-commit (a keyed request: nothing, it will retry).</summary>
        public virtual void Died(FaultSimulation sim, Client client, CommitDescriptor descriptor)
        {
        }
    }

    private sealed class Charge(IdempotencyKey key, Money amount) : Request
    {
        public override string ToString() => $"charge {amount} [{key.Value}]";

        public override void Run(FaultSimulation sim, Client client)
        {
            var result = Wait(sim._wallets.ChargeAsync(client.User, amount, key));
            if (result.IsSuccess)
            {
                client.Charges.Add((amount.Amount, result.Value.Amount));
            }
            else
            {
                sim.Expect(result.Error.Code == CommerceErrorCode.BalanceLimitExceeded, $"charge refused with {result.Error.Code}");
            }
        }
    }

    private sealed class PlaceOrder(IdempotencyKey key, OrderLineRequest[] lines) : Request
    {
        public override string ToString() => $"order {string.Join("+", lines.Select(l => $"{l.Quantity}×{l.ProductId}"))} [{key.Value}]";

        public override void Run(FaultSimulation sim, Client client)
        {
            var result = Wait(sim._orders.PlaceOrderAsync(client.User, lines, key));
            Record(sim, client, result);
        }

        public static void Record(FaultSimulation sim, Client client, Result<Order> result)
        {
            if (result.IsSuccess)
            {
                // A repeat returns the order again: count it once.
                if (!client.Live.Any(o => o.Id == result.Value.Id) && !client.Cancelled.Any(o => o.Id == result.Value.Id))
                {
                    client.Live.Add(result.Value);
                }
            }
            else
            {
                sim.Expect(
                    result.Error.Code is CommerceErrorCode.InsufficientBalance or CommerceErrorCode.InsufficientStock or CommerceErrorCode.EmptyOrder,
                    $"order refused with {result.Error.Code}");
            }
        }
    }

    private sealed class Checkout(IdempotencyKey key) : Request
    {
        public override string ToString() => $"checkout [{key.Value}]";

        private int _cartUnits = -1;

        public override void Run(FaultSimulation sim, Client client)
        {
            // The cart as it was before the first attempt: a success (first or replayed) emptied it.
            if (_cartUnits < 0)
            {
                _cartUnits = client.CartUnits;
            }

            var result = Wait(sim._carts.CheckoutAsync(client.User, key));
            PlaceOrder.Record(sim, client, result);
            if (result.IsSuccess)
            {
                client.CartUnits = 0;
            }
        }
    }

    /// <summary>Cancelling has no key; it is safe to repeat (a second cancel says it is cancelled already).</summary>
    private sealed class Cancel(OrderId id) : Request
    {
        public override string ToString() => $"cancel {id}";

        public override void Run(FaultSimulation sim, Client client)
        {
            var result = Wait(sim._orders.CancelOrderAsync(id));
            var order = client.Live.Single(o => o.Id == id);
            if (result.IsSuccess || (Attempts > 1 && result.Error.Code == CommerceErrorCode.OrderAlreadyCancelled))
            {
                client.Live.Remove(order);
                client.Cancelled.Add(order);
                return;
            }

            sim.Expect(result.Error.Code == CommerceErrorCode.BalanceLimitExceeded, $"cancel refused with {result.Error.Code}");
        }
    }

    /// <summary>Adding to a cart has no key and is not safe to repeat: after a fault the client reads whether it applied.</summary>
    private sealed class AddToCart(ProductId product, int quantity) : Request
    {
        public override string ToString() => $"add {quantity}×{product} to the cart";

        public override bool Retries => false;

        public override void Run(FaultSimulation sim, Client client)
        {
            var result = Wait(sim._carts.AddItemAsync(client.User, product, quantity));
            if (result.IsSuccess)
            {
                client.CartUnits += quantity;
            }
        }

        public override void Died(FaultSimulation sim, Client client, CommitDescriptor descriptor)
        {
            var before = client.CartUnits;
            var now = Wait(sim._carts.GetCartAsync(client.User)).Lines.Sum(l => l.Quantity);
            sim.Expect(now == before || now == before + quantity, $"user {client.User}: after a dead add the cart holds {now} units, not {before} or {before + quantity}");
            sim.Expect((now == before + quantity) == Applied(descriptor), $"user {client.User}: the cart and the dead commit's decision disagree");
            client.CartUnits = now;
        }
    }

    /// <summary>Restocking has no key either: after a fault the catalog admin learns from the decision whether it applied.</summary>
    private sealed class Restock(ProductId product, int quantity) : Request
    {
        public override string ToString() => $"restock {quantity}×{product}";

        public override bool Retries => false;

        public override void Run(FaultSimulation sim, Client client)
        {
            _ = Ok(Wait(sim._catalog.RestockAsync(product, quantity)));
            sim._restocked[product.Value] += quantity;
        }

        public override void Died(FaultSimulation sim, Client client, CommitDescriptor descriptor)
        {
            if (Applied(descriptor))
            {
                sim._restocked[product.Value] += quantity;
            }
        }
    }

    private sealed class ClientDied : Exception;

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
