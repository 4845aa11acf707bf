using System.Runtime.CompilerServices;

namespace Commerce.Storage;

/// <summary>
/// The one unit of work of the library, over any store's <see cref="IStoreSession"/>. It keeps every
/// rule of the port in one place: a key read twice gives the same state; a read after a write gives the
/// staged state; a write to a key not read first is an insert (the key must be absent at commit); a write
/// over a present state of a write-once table (products, orders) fails the commit; a present write-once
/// state only read needs no check; sales are adjusted, never read; a refused use case commits its
/// reads only. The store only reads batches and commits the resulting <see cref="ChangeSet"/>.
/// </summary>
/// <remarks>
/// The services' units of work are reused: the one a thread disposed last is handed out again (with a fresh
/// session), so a use case over the in-memory store allocates none. One opened through
/// <see cref="CommerceStoreExtensions.BeginAsync"/> is not: its owner may dispose it more than once, which must
/// not reach another owner. A disposed unit of work must not be used again.
/// </remarks>
internal sealed class UnitOfWork
    : IUnitOfWork, IWalletRepository, IProductRepository, IInventoryRepository, ICartRepository, IOrderRepository, ISalesRepository,
        ILedgerRepository, IIdempotencyRepository
{
    [ThreadStatic]
    private static UnitOfWork? t_spare;

    private readonly ChangeSet _changes = new();
    private readonly ReadBatch _batch = new();
    private IStoreSession? _session;
    private ICommerceStore? _store; // for its idempotency digest, which only the repository's own lookups need
    private TimeSpan _rankingResolution;
    private bool _doomed;
    private bool _completed;
    private bool _disposed;
    private bool _pooled; // recycled into the thread's spare when disposed (see BeginAsync)

    private UnitOfWork(TimeSpan rankingResolution) => _rankingResolution = rankingResolution;

    public IWalletRepository Wallets => this;

    public IProductRepository Products => this;

    public IInventoryRepository Inventory => this;

    public ICartRepository Carts => this;

    public IOrderRepository Orders => this;

    public ISalesRepository Sales => this;

    public ILedgerRepository Ledger => this;

    public IIdempotencyRepository Idempotency => this;

    /// <summary>The change set as it stands (for tests).</summary>
    internal ChangeSet Changes => _changes;

    /// <summary>
    /// Opens a unit of work over a new session of <paramref name="store"/>; a <paramref name="pooled"/> one is
    /// this thread's spare if it has one, and becomes the spare again once disposed. Only a caller that
    /// disposes it exactly once and never touches it afterwards may take a pooled one (the services' runtime):
    /// a second dispose would reach whoever rented it next.
    /// </summary>
    public static ValueTask<IUnitOfWork> BeginAsync(ICommerceStore store, TimeSpan rankingResolution, bool pooled, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var opening = store.OpenSessionAsync(cancellationToken);
        if (!opening.IsCompletedSuccessfully)
        {
            return Awaited(rankingResolution, opening, store, pooled);
        }

        return new(Rent(rankingResolution, opening.Result, store, pooled));

        static async ValueTask<IUnitOfWork> Awaited(TimeSpan rankingResolution, ValueTask<IStoreSession> opening, ICommerceStore store, bool pooled) =>
            Rent(rankingResolution, await opening.ConfigureAwait(false), store, pooled);
    }

    private static UnitOfWork Rent(TimeSpan rankingResolution, IStoreSession session, ICommerceStore store, bool pooled)
    {
        var unitOfWork = pooled ? t_spare : null;
        if (unitOfWork is null)
        {
            unitOfWork = new UnitOfWork(rankingResolution) { _pooled = pooled };
        }
        else
        {
            t_spare = null;
            unitOfWork._rankingResolution = rankingResolution;
            unitOfWork._completed = false;
            unitOfWork._disposed = false;
        }

        unitOfWork._session = session;
        unitOfWork._store = store;
        return unitOfWork;
    }

    // ---- batch reads --------------------------------------------------------------------------

    public void Prefetch(StoreKey key)
    {
        EnsureOpen();
        if (key.Table == StoreTable.Sales)
        {
            throw new ArgumentException("Sales are adjusted and ranked, not read by key.", nameof(key));
        }

        if (IndexOf(key) < 0 && !_batch.Contains(key))
        {
            _batch.Request(key);
        }
    }

    public ValueTask LoadAsync(CancellationToken cancellationToken = default)
    {
        EnsureOpen();
        if (_batch.Count == 0)
        {
            return ValueTask.CompletedTask;
        }

        ValueTask reading;
        try
        {
            reading = _session!.ReadAsync(_batch, cancellationToken);
        }
        catch
        {
            // What a failed read left in the batch (results, rows read alongside) must not reach the next one.
            _batch.Clear();
            throw;
        }

        if (!reading.IsCompletedSuccessfully)
        {
            return Awaited(this, reading);
        }

        Absorb();
        return ValueTask.CompletedTask;

        static async ValueTask Awaited(UnitOfWork unitOfWork, ValueTask reading)
        {
            try
            {
                await reading.ConfigureAwait(false);
            }
            catch
            {
                unitOfWork._batch.Clear();
                throw;
            }

            unitOfWork.Absorb();
        }
    }

    /// <summary>Records what a batch read found, then empties the batch.</summary>
    private void Absorb()
    {
        try
        {
            _batch.EnsureComplete();

            // The keys of one batch are distinct, so only what was known before it needs a search.
            var known = _changes.Count;
            var results = _batch.Results;
            for (var i = 0; i < results.Length; i++)
            {
                Remember(_batch[i], results[i], known);
            }

            if (_batch.Added is { } added)
            {
                foreach (var (key, state) in added)
                {
                    Remember(key, state, known);
                }
            }
        }
        finally
        {
            _batch.Clear();
        }
    }

    /// <summary>
    /// Remembers a read; a key known already (among the first <paramref name="known"/> changes) keeps what
    /// it had, so repeated reads agree.
    /// </summary>
    /// <returns>The key's change.</returns>
    private int Remember(in StoreKey key, in StoredState seen, int known)
    {
        var at = IndexOf(key, known);
        return at >= 0 ? at : _changes.Add(new Change(key, ChangeSet.ReadKind(key, seen), true, seen, null, 0, 0));
    }

    /// <summary>The state a key holds in this unit of work, reading it (with anything prefetched) if unknown.</summary>
    private ValueTask<T?> FindAsync<T>(StoreKey key, CancellationToken cancellationToken)
        where T : class
    {
        EnsureOpen();
        var at = IndexOf(key);
        if (at >= 0)
        {
            return new(StateOf<T>(at));
        }

        var loading = LoadWith(key, cancellationToken, out var end);
        if (!loading.IsCompletedSuccessfully)
        {
            return Awaited(this, loading, key);
        }

        return new(StateOf<T>(IndexLoaded(key, end)));

        static async ValueTask<T?> Awaited(UnitOfWork unitOfWork, ValueTask loading, StoreKey key)
        {
            await loading.ConfigureAwait(false);
            return unitOfWork.StateOf<T>(unitOfWork.IndexOf(key));
        }
    }

    /// <summary>
    /// Loads <paramref name="key"/>, unknown to this unit of work, with anything prefetched; <paramref name="end"/>
    /// is where the batch's keys start (they are new, so the key lands there or after: see <see cref="IndexLoaded"/>).
    /// </summary>
    private ValueTask LoadWith(in StoreKey key, CancellationToken cancellationToken, out int end)
    {
        if (!_batch.Contains(key))
        {
            _batch.Request(key);
        }

        end = _changes.Count;
        return LoadAsync(cancellationToken);
    }

    /// <summary>The change of a key <see cref="LoadWith"/> loaded, which most often lands first, at <paramref name="end"/>.</summary>
    private int IndexLoaded(in StoreKey key, int end) => _changes[end].Key == key ? end : IndexOf(key);

    private T? StateOf<T>(int at)
        where T : class
    {
        ref readonly var change = ref _changes[at];
        return change.Kind switch
        {
            ChangeKind.Insert or ChangeKind.Update => (T?)change.State,
            ChangeKind.Adjust => throw AdjustedKeyRead(),
            _ when change.Seen.IsQuantity => (T)(object)new StockItem(change.Key.ProductId, change.Seen.OnHand), // made for the caller that asks
            _ when change.Seen.IsBalance => (T)(object)new Wallet(change.Key.UserId, change.Seen.Balance, change.Seen.LedgerLength), // the same
            _ => (T?)change.Seen.State,
        };
    }

    private static InvalidOperationException AdjustedKeyRead() => new("A key adjusted in a unit of work cannot be read in it.");

    /// <summary>
    /// The quantity on hand of a product's stock in <paramref name="unitOfWork"/> (<see langword="null"/> if it has
    /// none): read as a number from the library's own unit of work (see <see cref="FindOnHandAsync(ProductId, CancellationToken)"/>),
    /// else from the stock item any other gives.
    /// </summary>
    internal static ValueTask<int?> FindOnHandAsync(IUnitOfWork unitOfWork, ProductId productId, CancellationToken cancellationToken) =>
        unitOfWork is UnitOfWork own
            ? own.FindOnHandAsync(productId, cancellationToken)
            : OnHandOf(unitOfWork.Inventory.FindAsync(productId, cancellationToken));

    private static async ValueTask<int?> OnHandOf(ValueTask<StockItem?> read) => (await read.ConfigureAwait(false))?.OnHand;

    /// <summary>
    /// The quantity on hand of a product's stock in this unit of work (<see langword="null"/> if it has none),
    /// as <see cref="IInventoryRepository.FindAsync"/> would give it, but without making the <see cref="StockItem"/>
    /// when the store read it as a number (<see cref="StoredState.OfQuantity"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The stock was adjusted in this unit of work.</exception>
    internal ValueTask<int?> FindOnHandAsync(ProductId productId, CancellationToken cancellationToken) =>
        FindAtAsync(StoreKey.ForStock(productId), static (unitOfWork, at) => unitOfWork.OnHandAt(at), cancellationToken);

    /// <summary>
    /// What <paramref name="valueAt"/> makes of this unit of work's change at <paramref name="key"/>, read first if it
    /// was not (with whatever else is waiting to be read): for a use case that needs a state's numbers, not the state.
    /// </summary>
    private ValueTask<T> FindAtAsync<T>(StoreKey key, Func<UnitOfWork, int, T> valueAt, CancellationToken cancellationToken)
    {
        EnsureOpen();
        var at = IndexOf(key);
        if (at >= 0)
        {
            return new(valueAt(this, at));
        }

        var loading = LoadWith(key, cancellationToken, out var end);
        if (!loading.IsCompletedSuccessfully)
        {
            return Awaited(this, loading, key, valueAt);
        }

        return new(valueAt(this, IndexLoaded(key, end)));

        static async ValueTask<T> Awaited(UnitOfWork unitOfWork, ValueTask loading, StoreKey key, Func<UnitOfWork, int, T> valueAt)
        {
            await loading.ConfigureAwait(false);
            return valueAt(unitOfWork, unitOfWork.IndexOf(key));
        }
    }

    /// <summary>The quantity on hand of the stock change at <paramref name="at"/>, read as a number if the store gave one.</summary>
    private int? OnHandAt(int at)
    {
        ref readonly var change = ref _changes[at];
        return change.Kind switch
        {
            ChangeKind.Insert or ChangeKind.Update => ((StockItem?)change.State)?.OnHand,
            ChangeKind.Adjust => throw AdjustedKeyRead(),
            _ when change.Seen.IsQuantity => change.Seen.OnHand,
            _ => ((StockItem?)change.Seen.State)?.OnHand,
        };
    }

    /// <summary>
    /// The balance and ledger length of a user's wallet in <paramref name="unitOfWork"/> (<see langword="null"/> if the
    /// user was never charged): read as numbers from the library's own unit of work (see
    /// <see cref="FindWalletNumbersAsync(UserId, CancellationToken)"/>), else from the wallet any other gives.
    /// </summary>
    internal static ValueTask<WalletNumbers?> FindWalletNumbersAsync(IUnitOfWork unitOfWork, UserId userId, CancellationToken cancellationToken) =>
        unitOfWork is UnitOfWork own
            ? own.FindWalletNumbersAsync(userId, cancellationToken)
            : NumbersOf(unitOfWork.Wallets.FindAsync(userId, cancellationToken));

    private static async ValueTask<WalletNumbers?> NumbersOf(ValueTask<Wallet?> read) =>
        await read.ConfigureAwait(false) is { } wallet ? new WalletNumbers(wallet.Balance, wallet.LedgerLength) : null;

    /// <summary>
    /// The balance and ledger length of a user's wallet in this unit of work (<see langword="null"/> if the user was
    /// never charged), as <see cref="IWalletRepository.FindAsync"/> would give them, but without making the
    /// <see cref="Wallet"/> when the store read it as numbers (<see cref="StoredState.OfBalance"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The wallet was adjusted in this unit of work.</exception>
    internal ValueTask<WalletNumbers?> FindWalletNumbersAsync(UserId userId, CancellationToken cancellationToken) =>
        FindAtAsync(StoreKey.ForWallet(userId), static (unitOfWork, at) => unitOfWork.WalletNumbersAt(at), cancellationToken);

    /// <summary>The numbers of the wallet change at <paramref name="at"/>, read as numbers if the store gave them.</summary>
    private WalletNumbers? WalletNumbersAt(int at)
    {
        ref readonly var change = ref _changes[at];
        return change.Kind switch
        {
            ChangeKind.Insert or ChangeKind.Update => NumbersOf((Wallet?)change.State),
            ChangeKind.Adjust => throw AdjustedKeyRead(),
            _ when change.Seen.IsBalance => new WalletNumbers(change.Seen.Balance, change.Seen.LedgerLength),
            _ => NumbersOf((Wallet?)change.Seen.State),
        };

        static WalletNumbers? NumbersOf(Wallet? wallet) => wallet is null ? null : new WalletNumbers(wallet.Balance, wallet.LedgerLength);
    }

    /// <summary>
    /// Stages the payment of <paramref name="order"/>, which <paramref name="unitOfWork"/> places, from a wallet read
    /// as <paramref name="before"/> (<see cref="FindWalletNumbersAsync(IUnitOfWork, UserId, CancellationToken)"/>;
    /// <see langword="null"/>: never charged) holding at least the order's total. Over a store that read the wallet
    /// as numbers (<see cref="StoredState.OfBalance"/>), an adjustment of the balance with the entry's number checked
    /// by the store, and the payment as its order: no <see cref="Wallet"/> is made. Otherwise the debited wallet, and
    /// the payment as <see cref="AddPayment"/> stages it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The wallet holds less than the order's total.</exception>
    internal static void Pay(IUnitOfWork unitOfWork, WalletNumbers? before, Order order)
    {
        var key = StoreKey.ForWallet(order.UserId);
        if (unitOfWork is UnitOfWork { _store: IStoresPaymentsAsOrders } own && before is { } numbers && own.ReadAsNumbers(key))
        {
            if (order.Total > numbers.Balance)
            {
                throw new InvalidOperationException($"The payment of order {order.Id} takes more than the wallet holds.");
            }

            own.Adjust(key, -order.Total.Amount, 0);
            own.Stage(StoreKey.ForLedger(order.UserId, numbers.LedgerLength + 1), order, insertOnly: true);
            return;
        }

        var wallet = before is { } read ? new Wallet(order.UserId, read.Balance, read.LedgerLength) : Wallet.Empty(order.UserId);
        var paid = wallet.Debit(order.Total);
        if (paid.IsFailure)
        {
            throw new InvalidOperationException($"The payment of order {order.Id} takes more than the wallet holds.");
        }

        unitOfWork.Wallets.Save(paid.Value);
        AddPayment(unitOfWork, wallet, paid.Value, order);
    }

    /// <summary>Whether the wallet at <paramref name="key"/> was read as numbers (<see cref="StoredState.OfBalance"/>) and is not staged since.</summary>
    private bool ReadAsNumbers(in StoreKey key) => IndexOf(key) is var at and >= 0 && _changes[at] is { Kind: ChangeKind.Read, Seen.IsBalance: true };

    /// <summary>
    /// Stages money added to a wallet read as <paramref name="before"/> (<see cref="FindWalletNumbersAsync(IUnitOfWork, UserId, CancellationToken)"/>;
    /// <see langword="null"/>: never charged), a charge or a refund of <paramref name="amount"/> (which the caller checked
    /// against the limits), and its ledger entry, which it returns. Over a wallet read as numbers
    /// (<see cref="StoredState.OfBalance"/>), an adjustment of the balance with the entry's number checked by the store,
    /// as for a payment (<see cref="Pay"/>): no <see cref="Wallet"/> is made. Otherwise the credited wallet.
    /// </summary>
    internal static LedgerEntry Credit(IUnitOfWork unitOfWork, UserId user, WalletNumbers? before, Money amount, LedgerEntryKind kind, OrderId? orderId, DateTimeOffset at)
    {
        var (balance, length) = before ?? new WalletNumbers(Money.Zero, 0);
        var entry = new LedgerEntry(length + 1, user, kind, amount, new Money(checked(balance.Amount + amount.Amount)), orderId, at);
        var key = StoreKey.ForWallet(user);
        if (unitOfWork is UnitOfWork own && before is not null && own.ReadAsNumbers(key))
        {
            own.Adjust(key, amount.Amount, 0);
        }
        else
        {
            unitOfWork.Wallets.Save(new Wallet(user, entry.BalanceAfter, entry.Sequence));
        }

        unitOfWork.Ledger.Add(entry);
        return entry;
    }

    // ---- writes -------------------------------------------------------------------------------

    /// <summary>
    /// Stages a state: an update of a state read, an insert otherwise (see the class remarks). An
    /// <paramref name="insertOnly"/> write (the repositories' <c>Add</c>) over a state read present, or staged, fails the commit.
    /// </summary>
    private void Stage(in StoreKey key, object state, bool insertOnly = false)
    {
        EnsureOpen();
        var at = IndexOf(key);
        if (at < 0)
        {
            // Not read first: an insert, which requires the key to be absent at commit.
            _changes.Add(new Change(key, ChangeKind.Insert, false, default, state, 0, 0));
            return;
        }

        ref readonly var known = ref _changes[at];
        var kind = known.Kind switch
        {
            ChangeKind.Insert or ChangeKind.Update => known.Kind,
            ChangeKind.Adjust => throw new InvalidOperationException("A key adjusted in a unit of work cannot also be written whole."),
            _ when known.Seen.State is null => ChangeKind.Insert,
            _ => ChangeKind.Update,
        };

        if ((kind == ChangeKind.Update && (insertOnly || key.IsWriteOnce)) || (insertOnly && known.IsWrite))
        {
            // A write-once state is never replaced: the port's Add is an insert, which must fail over it, and
            // over a state this unit of work staged too (a read would return it).
            _doomed = true;
        }

        _changes.Replace(at, new Change(key, kind, known.WasRead, known.Seen, state, 0, 0));
    }

    /// <summary>
    /// Stages a relative change of a number (see <see cref="ChangeKind.Adjust"/>); adjustments of one key add
    /// up. A key read first is no longer checked at commit (the minimum checks what the read was for), but
    /// a refusal (<see cref="DiscardWrites"/>) turns it back into that read.
    /// </summary>
    private void Adjust(in StoreKey key, long delta, long minimum)
    {
        EnsureOpen();
        var at = IndexOf(key);
        if (at < 0)
        {
            _changes.Add(new Change(key, ChangeKind.Adjust, false, default, null, delta, minimum));
            return;
        }

        ref readonly var known = ref _changes[at];
        if (known.Kind is ChangeKind.Insert or ChangeKind.Update)
        {
            throw new InvalidOperationException("A key written whole in a unit of work cannot also be adjusted.");
        }

        var sum = known.Kind == ChangeKind.Adjust ? checked(known.Delta + delta) : delta;
        var floor = known.Kind == ChangeKind.Adjust ? Math.Max(known.Minimum, minimum) : minimum;
        _changes.Replace(at, new Change(key, ChangeKind.Adjust, known.WasRead, known.Seen, null, sum, floor));
    }

    public void Publish(Events.CommerceEvent @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        EnsureOpen();
        _changes.AddEvent(@event);
    }

    /// <summary>
    /// Publishes the <see cref="Events.OrderPlaced"/> of <paramref name="order"/>, which this unit of work
    /// inserts, as the order itself (see <see cref="ChangeSet.TryGetPlacedOrder"/>): no event is made unless
    /// a store reads it.
    /// </summary>
    internal void PublishOrderPlaced(Order order)
    {
        ArgumentNullException.ThrowIfNull(order);
        PublishAsWritten(StoreKey.ForOrder(order.Id), order, ChangeKind.Insert, order.Status == OrderStatus.Placed, "An order's placement is published with the order's insertion.");
    }

    /// <summary>
    /// Publishes the <see cref="Events.OrderCancelled"/> of <paramref name="cancelled"/>, which this unit of work
    /// saves over the order it read, as the cancelled order itself (see <see cref="ChangeSet.TryGetCancelledOrder"/>):
    /// no event is made unless a store reads it.
    /// </summary>
    internal void PublishOrderCancelled(Order cancelled)
    {
        ArgumentNullException.ThrowIfNull(cancelled);
        PublishAsWritten(
            StoreKey.ForOrder(cancelled.Id),
            cancelled,
            ChangeKind.Update,
            cancelled.Status == OrderStatus.Cancelled,
            "An order's cancellation is published with the cancelled order saved.");
    }

    /// <summary>
    /// Publishes the <see cref="Events.WalletCharged"/> of a charge's ledger <paramref name="entry"/>, which this
    /// unit of work inserts, as the entry itself (see <see cref="ChangeSet.TryGetChargeEntry"/>): no event is
    /// made unless a store reads it.
    /// </summary>
    internal void PublishWalletCharged(LedgerEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        PublishAsWritten(
            StoreKey.ForLedger(entry.UserId, entry.Sequence),
            entry,
            ChangeKind.Insert,
            entry.Kind == LedgerEntryKind.Charge,
            "A charge is published with the insertion of its ledger entry.");
    }

    /// <summary>
    /// Publishes the event a state this unit of work writes at <paramref name="key"/> reports, as that state;
    /// refused (with <paramref name="refused"/>) unless <paramref name="reportable"/> and the state is that key's
    /// last write, of <paramref name="kind"/>.
    /// </summary>
    private void PublishAsWritten(in StoreKey key, object written, ChangeKind kind, bool reportable, string refused)
    {
        EnsureOpen();
        var at = LastIndexOf(key);
        if (!reportable || at < 0 || _changes[at].Kind != kind || !ReferenceEquals(_changes[at].State, written))
        {
            throw new InvalidOperationException(refused);
        }

        _changes.AddEventAsState(written);
    }

    /// <summary>Drops every staged write and event, keeping the reads: a refused use case commits (validates) only what it read.</summary>
    internal void DiscardWrites() => _changes.DiscardWrites();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int IndexOf(in StoreKey key) => IndexOf(key, _changes.Count);

    /// <summary>
    /// The change of a key, or -1, looked for from the last change back: for a key staged moments ago (an insert whose
    /// event is published next), found in a step or two. A key has one change at most, so it is the one <see cref="IndexOf(in StoreKey)"/> finds.
    /// </summary>
    private int LastIndexOf(in StoreKey key)
    {
        var changes = _changes.Changes;
        for (var i = changes.Length - 1; i >= 0; i--)
        {
            if (changes[i].Key == key)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The change of a key among the first <paramref name="count"/> changes, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int IndexOf(in StoreKey key, int count)
    {
        var changes = _changes.Changes[..count];
        for (var i = 0; i < changes.Length; i++)
        {
            if (changes[i].Key == key)
            {
                return i;
            }
        }

        return -1;
    }

    // ---- repositories -------------------------------------------------------------------------

    ValueTask<Wallet?> IWalletRepository.FindAsync(UserId userId, CancellationToken cancellationToken) =>
        FindAsync<Wallet>(StoreKey.ForWallet(userId), cancellationToken);

    void IWalletRepository.Save(Wallet wallet)
    {
        ArgumentNullException.ThrowIfNull(wallet);
        Stage(StoreKey.ForWallet(wallet.UserId), wallet);
    }

    ValueTask<Product?> IProductRepository.FindAsync(ProductId productId, CancellationToken cancellationToken) =>
        FindAsync<Product>(StoreKey.ForProduct(productId), cancellationToken);

    async ValueTask<IReadOnlyList<Product>> IProductRepository.ListAsync(ProductId? after, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await LoadAsync(cancellationToken).ConfigureAwait(false);
        var page = new List<Product>(Math.Min(limit, 64));
        ProductRange range;
        try
        {
            // Inside the try: the rows a listing that failed midway added must not reach the next read.
            range = await _session!.ReadProductsAsync(after, limit, _batch, cancellationToken).ConfigureAwait(false);
            var known = _changes.Count;
            foreach (var (key, state) in _batch.Added ?? [])
            {
                // A product this unit of work already knew keeps the state it had (absent stays absent; the commit then fails).
                var at = Remember(key, state, known);
                if (key.Table == StoreTable.Products && state.State is not null && StateOf<Product>(at) is { } product)
                {
                    page.Add(product);
                }
            }
        }
        finally
        {
            _batch.Clear();
        }

        _changes.AddRange(range);
        return page.AsReadOnly();
    }

    void IProductRepository.Add(Product product)
    {
        ArgumentNullException.ThrowIfNull(product);
        Stage(StoreKey.ForProduct(product.Id), product, insertOnly: true);
    }

    ValueTask<StockItem?> IInventoryRepository.FindAsync(ProductId productId, CancellationToken cancellationToken) =>
        FindAsync<StockItem>(StoreKey.ForStock(productId), cancellationToken);

    void IInventoryRepository.Save(StockItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        Stage(StoreKey.ForStock(item.ProductId), item);
    }

    void IInventoryRepository.Adjust(ProductId productId, int delta) => ((IInventoryRepository)this).Adjust(productId, delta, 0);

    void IInventoryRepository.Adjust(ProductId productId, int delta, int minimum)
    {
        if (delta == int.MinValue)
        {
            throw new ArgumentOutOfRangeException(nameof(delta), delta, "The change of a stock must lie within ±int.MaxValue.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(minimum);
        Adjust(StoreKey.ForStock(productId), delta, minimum);
    }

    ValueTask<Cart?> ICartRepository.FindAsync(UserId userId, CancellationToken cancellationToken) =>
        FindAsync<Cart>(StoreKey.ForCart(userId), cancellationToken);

    void ICartRepository.Save(Cart cart)
    {
        ArgumentNullException.ThrowIfNull(cart);
        Stage(StoreKey.ForCart(cart.UserId), cart);
    }

    ValueTask<Order?> IOrderRepository.FindAsync(OrderId orderId, CancellationToken cancellationToken) =>
        FindAsync<Order>(StoreKey.ForOrder(orderId), cancellationToken);

    void IOrderRepository.Add(Order order)
    {
        ArgumentNullException.ThrowIfNull(order);
        Stage(StoreKey.ForOrder(order.Id), order, insertOnly: true);
    }

    void IOrderRepository.Save(Order order)
    {
        ArgumentNullException.ThrowIfNull(order);
        EnsureOpen();
        var key = StoreKey.ForOrder(order.Id);
        if (IndexOf(key) is var at && (at < 0 || _changes[at].Seen.State is null))
        {
            throw new InvalidOperationException("An order is saved only after it was read; a new order is added.");
        }

        Stage(key, order);
    }

    ValueTask<LedgerEntry?> ILedgerRepository.FindAsync(UserId userId, long sequence, CancellationToken cancellationToken)
    {
        EnsureOpen();
        var key = StoreKey.ForLedger(userId, sequence);
        var at = IndexOf(key);
        return at >= 0 && _changes[at].Kind == ChangeKind.Insert && _changes[at].State is Order order
            ? new(PaymentOf(order, sequence))
            : FindAsync<LedgerEntry>(key, cancellationToken);
    }

    /// <summary>
    /// Stages the payment of an order <paramref name="unitOfWork"/> places (<paramref name="before"/> debited
    /// to <paramref name="after"/>): as the order itself if it is the library's own over a store that keeps
    /// payments so (<see cref="IStoresPaymentsAsOrders"/>), else as its <see cref="LedgerEntry"/>.
    /// </summary>
    public static void AddPayment(IUnitOfWork unitOfWork, Wallet before, Wallet after, Order order)
    {
        ArgumentNullException.ThrowIfNull(unitOfWork);
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        ArgumentNullException.ThrowIfNull(order);
        if (unitOfWork is UnitOfWork { _store: IStoresPaymentsAsOrders } own)
        {
            own.Stage(StoreKey.ForLedger(order.UserId, after.LedgerLength), order, insertOnly: true);
        }
        else
        {
            unitOfWork.Ledger.Add(before.EntryTo(after, LedgerEntryKind.Payment, order.Id, order.PlacedAt));
        }
    }

    /// <summary>The entry of a payment staged as its order (see <see cref="AddPayment"/>): its balance after is the wallet staged with it.</summary>
    private LedgerEntry PaymentOf(Order order, long sequence)
    {
        var at = IndexOf(StoreKey.ForWallet(order.UserId));
        Money? balance = at < 0 ? null
            : _changes[at] is { Kind: ChangeKind.Adjust, Seen.IsBalance: true } adjusted ? new Money(adjusted.Seen.Balance.Amount + adjusted.Delta) // a payment staged by Pay
            : StateOf<Wallet>(at)?.Balance;
        return new LedgerEntry(
            sequence,
            order.UserId,
            LedgerEntryKind.Payment,
            order.Total,
            balance ?? throw new InvalidOperationException($"The payment of order {order.Id} is staged without its wallet."),
            order.Id,
            order.PlacedAt);
    }

    void ILedgerRepository.Add(LedgerEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Sequence < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(entry), entry.Sequence, "A ledger's entries are numbered from 1.");
        }

        Stage(StoreKey.ForLedger(entry.UserId, entry.Sequence), entry, insertOnly: true);
    }

    ValueTask<IdempotencyRecord?> IIdempotencyRepository.FindAsync(UserId userId, IdempotentOperation operation, string key, CancellationToken cancellationToken) =>
        FindIdempotencyAsync(StoreKey.ForIdempotency(userId, operation, key, _store as IIdempotencyDigest), cancellationToken);

    void IIdempotencyRepository.Save(IdempotencyRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        SaveIdempotency(StoreKey.ForIdempotency(record.UserId, record.Operation, record.Key, _store as IIdempotencyDigest), record);
    }

    /// <summary>Like <see cref="IIdempotencyRepository.FindAsync"/>, at a key whose digest the caller computed once for all attempts.</summary>
    /// <remarks>A record this unit of work staged compact (see <see cref="SaveIdempotency(in StoreKey, CompactIdempotencyRecord)"/>) is made back.</remarks>
    internal ValueTask<IdempotencyRecord?> FindIdempotencyAsync(in StoreKey key, CancellationToken cancellationToken)
    {
        var finding = FindAsync<object>(key, cancellationToken);
        var userId = key.UserId;
        return finding.IsCompletedSuccessfully ? new(RecordOf(finding.Result, userId)) : Awaited(finding, userId);

        static async ValueTask<IdempotencyRecord?> Awaited(ValueTask<object?> finding, UserId userId) => RecordOf(await finding.ConfigureAwait(false), userId);

        static IdempotencyRecord? RecordOf(object? state, UserId userId) =>
            state is CompactIdempotencyRecord staged ? staged.ToRecord(userId) : (IdempotencyRecord?)state;
    }

    /// <summary>Like <see cref="IIdempotencyRepository.Save"/>, at the record's key (<see cref="StoreKey.ForIdempotency(UserId, IdempotentOperation, string, IIdempotencyDigest?)"/>), computed by the caller.</summary>
    internal void SaveIdempotency(in StoreKey key, IdempotencyRecord record) => Stage(key, record);

    /// <summary>Stages a success's record in the form the store keeps (see <see cref="IStoresCompactIdempotencyRecords"/>), at its key.</summary>
    internal void SaveIdempotency(in StoreKey key, CompactIdempotencyRecord record) => Stage(key, record);

    /// <summary>Whether the store keeps the records of successes compact (<see cref="IStoresCompactIdempotencyRecords"/>).</summary>
    internal bool StoresCompactIdempotencyRecords => _store is IStoresCompactIdempotencyRecords;

    void ISalesRepository.Record(Order order) => AdjustSales(order, +1);

    void ISalesRepository.Unrecord(Order order) => AdjustSales(order, -1);

    /// <summary>Adds (or, with a sign of −1, takes back) an order's units in the bucket of its placing; no count goes below zero.</summary>
    private void AdjustSales(Order order, int sign)
    {
        ArgumentNullException.ThrowIfNull(order);
        var bucket = SalesWindow.BucketOf(order.PlacedAt, _rankingResolution);
        foreach (ref readonly var line in order.LineSpan)
        {
            Adjust(StoreKey.ForSales(bucket, line.ProductId), sign * (long)line.Quantity, 0);
        }
    }

    async ValueTask<IReadOnlyList<ProductSales>> ISalesRepository.GetTopAsync(DateTimeOffset from, DateTimeOffset to, int count, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        await LoadAsync(cancellationToken).ConfigureAwait(false);
        SalesTop top;
        try
        {
            top = await _session!.ReadTopSalesAsync(
                SalesWindow.BucketOf(from, _rankingResolution),
                SalesWindow.EndBucketOf(to, _rankingResolution),
                count,
                _batch,
                cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The rows a failed read added must not reach the next one.
            _batch.Clear();
            throw;
        }

        Absorb();

        // Buckets read while a commit on them was in flight might count part of an order: fail the commit, so the query runs again.
        _doomed |= !top.Consistent;
        return top.Sales;
    }

    // ---- commit -------------------------------------------------------------------------------

    public ValueTask<bool> CommitAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        EnsureOpen();
        if (!_changes.HasWrites && _changes.Events.Count > 0)
        {
            throw new InvalidOperationException("Events are published with the writes they report: this unit of work stages none.");
        }

        _completed = true;
        return _doomed ? new(false) : _session!.CommitAsync(_changes, cancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        _completed = true;
        if (_disposed)
        {
            return ValueTask.CompletedTask;
        }

        _disposed = true;
        var session = _session!;
        _session = null;
        _store = null;
        var closing = session.DisposeAsync();
        Recycle();
        return closing;
    }

    /// <summary>Keeps a pooled unit of work for the thread's next pooled <see cref="BeginAsync"/>, unless it grew too large.</summary>
    private void Recycle()
    {
        _doomed = false;
        _batch.Clear();
        if (_pooled && _changes.Reset())
        {
            t_spare = this;
        }
    }

    private void EnsureOpen() => ObjectDisposedException.ThrowIf(_completed, this);
}

/// <summary>A wallet's numbers as a unit of work read them (see <see cref="UnitOfWork.FindWalletNumbersAsync(IUnitOfWork, UserId, CancellationToken)"/>).</summary>
/// <param name="Balance">The balance.</param>
/// <param name="LedgerLength">How many entries the wallet's ledger has.</param>
internal readonly record struct WalletNumbers(Money Balance, long LedgerLength);
