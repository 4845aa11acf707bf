using Commerce.InMemory.LockFree;
using Commerce.InMemory.Tests.Support;
using Commerce.Storage;

namespace Commerce.InMemory.Tests.LockFree;

/// <summary>
/// Sales count states are reused (see <see cref="SalesCount"/>): never while a thread that could have read
/// one is in a section, never once a commit that died on the way named it, and really reused otherwise,
/// with every count right.
/// </summary>
[Collection(EpochCollection.Name)]
public sealed class SalesCountReuseTests
{
    private static readonly ProductId Product = new(1);
    private static readonly UserId User = new(7);

    [Fact]
    public void A_given_back_state_is_not_handed_out_while_a_thread_that_could_have_read_it_is_in_a_section_and_is_after()
    {
        var state = SalesCount.Of(1);
        var reader = new ThreadInSection(); // as a ranking read or a commit that read it from its cell
        SalesCount.GiveBack(state);

        // Enough to hand it out several times over were nothing holding the epoch back.
        for (var i = 0; i < 200; i++)
        {
            var other = SalesCount.Of(i);
            Assert.NotSame(state, other);
            SalesCount.GiveBack(other); // made and never installed
        }

        reader.Leave();
        var reused = false;
        for (var i = 0; i < 2_000 && !reused; i++)
        {
            var other = SalesCount.Of(i);
            reused = ReferenceEquals(state, other);
            Assert.Equal(i, other.Quantity);
            SalesCount.GiveBack(other);
        }

        Assert.True(reused, "The state was never handed out again.");
    }

    [Fact]
    public void Orders_through_the_store_reuse_sales_states_and_every_count_is_right()
    {
        using var shop = InMemoryShop.Create();
        var products = Enumerable.Range(1, 4).Select(i => new ProductId(i)).ToArray();
        foreach (var product in products)
        {
            Assert.True(Sync.Run(shop.Catalog.AddProductAsync(product, "P" + product.Value, new Money(1), 10_000)).IsSuccess);
        }

        Assert.True(Sync.Run(shop.Wallets.ChargeAsync(User, new Money(1_000_000))).IsSuccess);
        var before = SalesCount.ReusedOnThisThread;
        var placed = new List<Order>();
        for (var i = 0; i < 400; i++)
        {
            placed.Add(Sync.Run(shop.Orders.PlaceOrderAsync(User, [new(products[i % 4], 1 + (i % 3)), new(products[(i + 1) % 4], 1)])).Value);
        }

        // A few cancels take units out again, through reused states too.
        foreach (var order in placed.Where((_, i) => i % 10 == 0))
        {
            Assert.True(Sync.Run(shop.Orders.CancelOrderAsync(order.Id)).IsSuccess);
        }

        Assert.True(SalesCount.ReusedOnThisThread > before, "No commit reused a sales state.");
        var expected = placed.Where((_, i) => i % 10 != 0).SelectMany(order => order.Lines)
            .GroupBy(line => line.ProductId).ToDictionary(group => group.Key, group => group.Sum(line => (long)line.Quantity));
        var ranking = Sync.Run(shop.Ranking.GetPopularProductsAsync());
        Assert.Equal(expected.Count, ranking.Count);
        Assert.All(ranking, sold => Assert.Equal(expected[sold.ProductId], sold.QuantitySold));
    }

    [Fact]
    public void The_states_a_commit_that_died_on_the_way_named_never_come_back_to_a_cell()
    {
        var store = new InMemoryCommerceStore();
        var order = new Order(OrderId.New(DateTimeOffset.UtcNow), User, [new OrderLine(Product, 1, new Money(1), new Money(1))], DateTimeOffset.UtcNow);

        // The wallet's cell is made first, so a commit of the wallet and the count installs the wallet first.
        Commit(store, work => work.Wallets.Save(new Wallet(User, new Money(100))));
        var named = new List<Cell>();
        store.AfterInstall = (descriptor, i) => named.Add(descriptor.Updates[i].Cell);
        Commit(store, work => work.Sales.Record(order));
        var cell = Assert.Single(named);
        var expected = MultiWordCas.Read(cell); // what the commit below expects there
        Assert.Equal(1, ((SalesCount)expected).Quantity);

        // A commit of the wallet and the count that dies right after installing its descriptor in the wallet's cell.
        store.AfterInstall = (_, _) => throw new CommitDied();
        var dying = Sync.Run(store.BeginAsync());
        Assert.Equal(new Money(100), Sync.Run(dying.Wallets.FindAsync(User))!.Balance);
        dying.Wallets.Save(new Wallet(User, new Money(50)));
        dying.Sales.Record(order);
        Assert.Throws<CommitDied>(() => Sync.Run(dying.CommitAsync()));
        store.AfterInstall = null;

        // Counts committed alone replace that state, and then one reused state after another. Were the dead
        // commit's state handed out again, it would come back to this cell in a few hundred commits.
        var reusedBefore = SalesCount.ReusedOnThisThread;
        var recorded = 1L;
        do
        {
            Commit(store, work => work.Sales.Record(order));
            recorded++;
        }
        while (recorded < 2_000 && !ReferenceEquals(MultiWordCas.Read(cell), expected));

        Assert.NotSame(expected, MultiWordCas.Read(cell));
        Assert.True(SalesCount.ReusedOnThisThread > reusedBefore, "No commit reused a sales state.");

        // A reader of the wallet now helps the dead commit to its end: it fails at the count, whose state moved
        // on for good, and changes nothing.
        var wallet = store.Wallets.Find(CellKey.From(StoreKey.ForWallet(User)))!;
        Assert.Equal(new Money(100), ((WalletState)MultiWordCas.Read(wallet)).Wallet.Balance);
        Assert.Equal(recorded, ((SalesCount)MultiWordCas.Read(cell)).Quantity);
    }

    private static void Commit(InMemoryCommerceStore store, Action<IUnitOfWork> write)
    {
        var work = Sync.Run(store.BeginAsync());
        write(work);
        Assert.True(Sync.Run(work.CommitAsync()));
    }

    private sealed class CommitDied : Exception;

    /// <summary>A thread that enters a critical section and stays in it until <see cref="Leave"/>.</summary>
    private sealed class ThreadInSection
    {
        private readonly ManualResetEventSlim _entered = new();
        private readonly ManualResetEventSlim _leave = new();
        private readonly Thread _thread;

        public ThreadInSection()
        {
            _thread = new Thread(() =>
            {
                var section = Epochs.Enter();
                _entered.Set();
                _leave.Wait();
                Epochs.Exit(section);
            })
            { IsBackground = true };
            _thread.Start();
            Assert.True(_entered.Wait(PausedCommit.Guard));
        }

        public void Leave()
        {
            _leave.Set();
            Assert.True(_thread.Join(PausedCommit.Guard));
        }
    }
}
