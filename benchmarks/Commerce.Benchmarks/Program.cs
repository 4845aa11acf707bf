using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using Commerce.Benchmarks;
using Commerce.Benchmarks.Plots;
using Commerce.Benchmarks.Postgres;

if (args is ["check-ranking"])
{
    return RankingCheck.Run();
}

if (args is ["plot", .. var plot] && plot.Length <= 2)
{
    // Charts of orders per second against workers from BenchmarkDotNet's CSV reports (not a timing).
    return ThroughputPlots.Run(plot);
}

if (args is ["soak", .. var soak])
{
    return Soak.Run(soak);
}

if (args is ["interleaved", .. var interleaved])
{
    // Two variants' orders in alternating slices of one process: their ratio, without the drift between runs.
    return Interleaved.Run(interleaved);
}

if (args is ["interleaved-builds", .. var builds])
{
    // The same, for two builds of the library loaded side by side: a change against the code before it.
    return InterleavedBuilds.Run(builds);
}

if (args is ["alternate", .. var alternate])
{
    // Two sets of BenchmarkDotNet cases in alternating processes, a launch each: their ratio, without the drift between launches.
    return Alternate.Run(alternate);
}

if (args is ["key-index", .. var keyIndex])
{
    // The idempotency keys' index alone: a fresh key looked up and inserted, in a large index.
    return KeyIndexProbe.Run(keyIndex);
}

if (args is ["pgsoak", .. var pgsoak])
{
    // One PostgreSQL case run steadily, for profiling (see benchmarks/POSTGRES.md).
    return PostgresSoak.Run(pgsoak);
}

if (args is ["simulate", .. var simulateArgs])
{
    // The seeded fault simulation of the in-memory store: `simulate [first seed] [seeds] [steps per seed]`.
    return Commerce.Simulation.SimulationCommand.Run(simulateArgs);
}

if (args is ["pgbench", .. var pgbenchArgs])
{
    // PostgreSQL's own TPC-B figure on the server COMMERCE_POSTGRES names (see benchmarks/POSTGRES.md).
    return PgBench.Run(pgbenchArgs);
}

if (args is ["pgfloor", .. var floorArgs])
{
    // What the server itself writes per second for this shop's group commits, with no client (see benchmarks/POSTGRES.md).
    return ServerFloor.Run(floorArgs);
}

if (args is ["allocations", .. var allocationArgs] && allocationArgs.Length <= 4)
{
    // `--types` adds which types the placed orders' bytes went to (sampled by the runtime's allocation ticks).
    using var sampler = allocationArgs.Contains("--types") ? new AllocationSampler() : null;
    // `--keyed` gives every measured order a fresh idempotency key (its text made per call, as a host gets it).
    var keyed = allocationArgs.Contains("--keyed");
    // `--no-events` measures with `PublishEvents = false`, to set beside the default.
    var noEvents = allocationArgs.Contains("--no-events");
    allocationArgs = [.. allocationArgs.Where(a => a is not "--types" and not "--keyed" and not "--no-events")];
    // Bytes allocated per operation on this thread, after a warm-up (not a timing), on the lock-free
    // store unless a store is named (`allocations GlobalLock`).
    // A fixed clock: every sale lands in one ranking bucket, so new sales cells do not blur the figure.
    var kind = allocationArgs is [var name] ? Enum.Parse<StoreKind>(name, ignoreCase: true) : StoreKind.LockFree;
    using var shop = new Shop(
        kind, new ManualClock(DateTimeOffset.UnixEpoch.AddYears(56)), products: 10_000, users: 10_000, configure: noEvents ? o => o.PublishEvents = false : null);
    var orders = Requests.Orders(1, 4096, hot: false);
    var users = Requests.Users(2, 4096);
    for (var i = 0; i < 20_000; i++)
    {
        Sync.Check(shop.Orders.PlaceOrderAsync(users[i & 4095], orders[i & 4095]));
        Sync.Wait(shop.Wallets.GetBalanceAsync(users[i & 4095]));
    }

    var placed = new Commerce.OrderId[100_000]; // made before the count: storing an id allocates nothing
    var heldBefore = GC.GetTotalMemory(forceFullCollection: true);
    sampler?.Recording = true;
    var before = GC.GetAllocatedBytesForCurrentThread();
    for (var i = 0; i < 100_000; i++)
    {
        placed[i] = Sync.Check(keyed
            ? shop.Orders.PlaceOrderAsync(users[i & 4095], orders[i & 4095], new Commerce.IdempotencyKey(string.Create(CultureInfo.InvariantCulture, $"order-{i}")))
            : shop.Orders.PlaceOrderAsync(users[i & 4095], orders[i & 4095])).Id;
    }

    var order = (GC.GetAllocatedBytesForCurrentThread() - before) / 100_000.0;
    sampler?.Recording = false;
    var orderTypes = sampler?.Take();
    var held = (GC.GetTotalMemory(forceFullCollection: true) - heldBefore) / 100_000.0; // what the store keeps of each order
    before = GC.GetAllocatedBytesForCurrentThread();
    for (var i = 0; i < 100_000; i++)
    {
        Sync.Wait(shop.Wallets.GetBalanceAsync(users[i & 4095]));
    }

    var balance = (GC.GetAllocatedBytesForCurrentThread() - before) / 100_000.0;

    // A charge of one unit, on the same users: its result is the wallet; what the store keeps of it is its ledger entry (and its event).
    var unit = new Commerce.Money(1);
    heldBefore = GC.GetTotalMemory(forceFullCollection: true);
    sampler?.Recording = true;
    before = GC.GetAllocatedBytesForCurrentThread();
    for (var i = 0; i < 100_000; i++)
    {
        Sync.Check(shop.Wallets.ChargeAsync(users[i & 4095], unit));
    }

    var charge = (GC.GetAllocatedBytesForCurrentThread() - before) / 100_000.0;
    sampler?.Recording = false;
    var chargeTypes = sampler?.Take();
    var chargeHeld = (GC.GetTotalMemory(forceFullCollection: true) - heldBefore) / 100_000.0;

    // A cancel of each order placed above: its result is the cancelled order; the store keeps that order in place of
    // the placed one, the refund's ledger entry and the cancel's event.
    heldBefore = GC.GetTotalMemory(forceFullCollection: true);
    sampler?.Recording = true;
    before = GC.GetAllocatedBytesForCurrentThread();
    foreach (var id in placed)
    {
        Sync.Check(shop.Orders.CancelOrderAsync(id));
    }

    var cancel = (GC.GetAllocatedBytesForCurrentThread() - before) / 100_000.0;
    sampler?.Recording = false;
    var cancelHeld = (GC.GetTotalMemory(forceFullCollection: true) - heldBefore) / 100_000.0;
    Console.WriteLine(
        $"{(allocationArgs.Length == 0 ? "" : kind + ": ")}bytes per order: {order:F1} allocated, {held:F1} kept; per balance query: {balance:F1}; " +
        $"per charge: {charge:F1} allocated, {chargeHeld:F1} kept; per cancel: {cancel:F1} allocated, {cancelHeld:F1} kept");
    if (sampler is not null)
    {
        Console.WriteLine("placed orders:");
        AllocationSampler.Print(orderTypes!, 100_000);
        Console.WriteLine("charges:");
        AllocationSampler.Print(chargeTypes!, 100_000);
        Console.WriteLine("cancels:");
        AllocationSampler.Print(sampler.Take(), 100_000);
    }

    return 0;
}

// Every benchmark runs with the server garbage collector, the default of ASP.NET Core hosts, where a
// shop library with concurrent requests lives (the workstation collector stops every thread on one core
// for each collection, which hides how any store scales); `--workstation-gc` measures with it instead.
// Collections are not forced between iterations: the stores keep what they are given (orders, sales),
// and the cost of collecting that is part of each operation's steady-state cost.
var workstation = args.Contains("--workstation-gc");
IConfig config = DefaultConfig.Instance.AddJob(Job.Default.WithGcServer(!workstation).WithGcForce(false).AsMutator());

// The PostgreSQL benchmark needs a server (COMMERCE_POSTGRES); without one it is left out, not failed.
if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("COMMERCE_POSTGRES")))
{
    Console.WriteLine("COMMERCE_POSTGRES is not set: the PostgreSQL benchmarks are left out (see benchmarks/POSTGRES.md).");
    config = config.AddFilter(new SimpleFilter(b => b.Descriptor.Type != typeof(PostgresOrderBenchmarks) && b.Descriptor.Type != typeof(PostgresEventBenchmarks)));
}

// `--pgbench` adds pgbench's TPC-B figure (16 clients, defaults of the `pgbench` command) after the
// benchmarks, on the same server in the same run.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run([.. args.Where(a => a is not "--workstation-gc" and not "--pgbench")], config);
return args.Contains("--pgbench") ? PgBench.Run([]) : 0;
