using System.Runtime.CompilerServices;
using Commerce.InMemory.LockFree;
using Commerce.Storage;

namespace Commerce.InMemory;

/// <summary>
/// The in-memory store's side of a unit of work. A read returns the cell's logical value, with the cell
/// as its handle. A commit turns the change set into one multi-word CAS: every key read or written is one
/// cell update, with the state read as the expected value (a key only read keeps it as the desired value
/// too, so the commit fails if it changed); an adjusted number expects whatever the cell holds when the
/// commit is built. A change set without writes instead re-reads what it read: since states are never
/// reused, equal references mean each cell held its state throughout, so all reads held together at one
/// instant. A product's stock is read as its quantity (<see cref="StoredState.OfQuantity"/>) and committed as
/// updates of its two words (see <see cref="StockCell"/> and <see cref="StockWords"/>).
/// </summary>
/// <remarks>Stateless: one instance serves every unit of work of the store, on any thread.</remarks>
internal sealed class InMemorySession(InMemoryCommerceStore store) : IStoreSession
{
    // Built per commit on the committing thread; the descriptor copies it into its own storage.
    [ThreadStatic]
    private static CellUpdate[]? t_scratch;

    // Per update of t_scratch: RenewListing for the products' listing bumped by a product's insert, which a retry renews; else -1.
    [ThreadStatic]
    private static int[]? t_adjusts;

    // The word updates of a commit's sales counts (see SalesWords), built per commit on the committing thread.
    [ThreadStatic]
    private static WordUpdate[]? t_words;

    // Per sales change of a commit: its index among the changes, its cell, and the units placed loaded with the cell (-1: read it).
    [ThreadStatic]
    private static SalesEntries? t_sales;

    // Per stock change of a commit held in a stock's words (see StockWords): its index among the changes, and its cell.
    [ThreadStatic]
    private static StockEntries? t_stock;

    // The word updates of a commit's wallets (see WrapWallets), built once per commit on the committing thread.
    [ThreadStatic]
    private static WordList? t_walletWords;

    public ValueTask ReadAsync(ReadBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        // A read completes at once, so there is nothing to stop midway; a token cancelled before it is honoured,
        // as on every store.
        cancellationToken.ThrowIfCancellationRequested();
        if (batch.Count is > 1 and <= Loaded<Cell>.Capacity)
        {
            ReadTogether(batch);
            return ValueTask.CompletedTask;
        }

        for (var i = 0; i < batch.Count; i++)
        {
            batch.SetResult(i, Read(batch[i], null, null));
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Reads a batch a level at a time across its keys: the slots of their tables' recently used cells, then
    /// those cells' states, then what each state is; then each key's read, through its slot's cell and the
    /// state loaded if the slot held the key's cell. Each read is a chain of dependent loads, and in a large
    /// store each link is a cache miss: read key by key, every miss waits for the one before it; level by
    /// level, the misses of all keys at one level are independent, and the processor waits for them
    /// together. A slot that holds another key's cell costs a load: that key is looked up as usual.
    /// </summary>
    private void ReadTogether(ReadBatch batch)
    {
        var count = batch.Count;
        var slots = default(Loaded<KeyedCell>);
        Cell? stripe = null; // of the user's events, which a commit that publishes them reads and swaps
        var stripeUser = default(UserId);
        for (var i = 0; i < count; i++)
        {
            var key = batch[i];
            if (key.Table is StoreTable.Wallets or StoreTable.Ledger)
            {
                slots[i] = store.Wallets.Recent(CellKey.From(StoreKey.ForWallet(key.UserId)));
                if (key.Table == StoreTable.Wallets)
                {
                    stripe = store.Events.PrefetchCellOf(key.UserId);
                    stripeUser = key.UserId;
                }
            }
            else
            {
                slots[i] = store.TableOf(key.Table).Recent(CellKey.From(key));
            }
        }

        var contents = default(Loaded<object>);
        LoadStates<KeyedCell>(((ReadOnlySpan<KeyedCell?>)slots)[..count], contents); // a descriptor: read through it below, as any read does
        store.Events.PrefetchState(stripe, stripeUser);
        for (var i = 0; i < count; i++)
        {
            (contents[i] as WalletCell)?.PrefetchLines(); // its other two numbers, its latest record, and the slot the commit copies it to
            if (contents[i] is StockCell stock)
            {
                Prefetch.Object(stock.Received); // read with the units taken
                Prefetch.Object(stock.Companion); // the product's sales count cell, which an order's commit adjusts
            }
        }

        for (var i = 0; i < count; i++)
        {
            batch.SetResult(i, Read(batch[i], slots[i], contents[i]));
        }
    }

    /// <summary>
    /// A key's read; through <paramref name="slot"/> if it is the key's cell (for a wallet or ledger entry, its
    /// wallet's), whose state was <paramref name="content"/> (unless <see langword="null"/>: read it now).
    /// </summary>
    private StoredState Read(in StoreKey key, KeyedCell? slot, object? content) => key.Table switch
    {
        StoreTable.Wallets => ReadWallet(key.UserId, slot, content),
        StoreTable.Ledger => ReadLedger(key, slot, content),
        StoreTable.Idempotency => ReadRecord(key),
        StoreTable.Stock => ReadStock(CellKey.From(key), slot, content),
        _ => Read(store.TableOf(key.Table), CellKey.From(key), slot, content),
    };

    /// <summary>
    /// A product's stock: its quantity (<see cref="StoredState.OfQuantity"/>, with the units taken as its version
    /// and its <see cref="StockCell"/> as its handle), or absent, with its keyed cell as the handle if it has one.
    /// </summary>
    private StoredState ReadStock(CellKey key, KeyedCell? slot = null, object? content = null)
    {
        var read = Read(store.Inventory, key, slot, content);
        if (read.State is not StockCell stock)
        {
            return read;
        }

        var numbers = stock.Read();
        return StoredState.OfQuantity((int)numbers.OnHand, numbers.Taken, stock);
    }

    /// <summary>The numbers a stock read (<see cref="ReadStock"/>) saw: the units taken were its version, and the quantity their difference.</summary>
    private static StockNumbers SeenNumbers(in StoredState seen) => new(seen.OnHand + seen.Version, seen.Version);

    /// <summary>
    /// An idempotency key's record, read through the key's cell, which the read creates if the key has none
    /// (absent until a commit gives it a record): a fresh key's lookup is then the one probe of its slots,
    /// and the commit that records the outcome has the cell at hand. A cell created for a request that
    /// never commits holds nothing, and is retired with its generation, which a purge seals once its oldest record
    /// expired, or at once if it holds no record (see <see cref="GenerationalCellTable"/>).
    /// A record kept compact (see <see cref="CompactIdempotencyRecord"/>) is made back, with a handle that
    /// names the state the cell holds (what a commit expects there).
    /// </summary>
    private StoredState ReadRecord(in StoreKey key)
    {
        var cell = store.Idempotency.GetOrCreate(CellKey.From(key));
        var state = MultiWordCas.Read(cell);
        return state is CompactIdempotencyRecord compact
            ? new StoredState(compact.ToRecord(key.UserId), 0, new CompactRead(cell, compact))
            : ReadOf(cell, state);
    }

    /// <summary>
    /// Finds the cells of the sales counts a change set adjusts, and their states, a level at a time across
    /// the changes as <see cref="ReadTogether"/> reads (a lookup in the bucket's dictionary, the cells, what
    /// each state is), rather than one change after another: up to <see cref="Loaded{T}.Capacity"/> of them,
    /// in the order of <paramref name="changes"/>, with each one's index there.
    /// </summary>
    /// <returns>How many it found (a cell not there yet is <see langword="null"/>; a number, -1 for a cell a commit in flight holds).</returns>
    private int FindSales(ReadOnlySpan<Change> changes, ref Loaded<int> indexes, ref Loaded<SalesCell> cells, ref Loaded<long> numbers)
    {
        var count = 0;
        for (var c = 0; c < changes.Length && count < Loaded<Cell>.Capacity; c++)
        {
            ref readonly var change = ref changes[c];
            if (change.Kind == ChangeKind.Adjust && change.Key.Table == StoreTable.Sales)
            {
                indexes[count] = c;
                cells[count++] = SalesCellOf(changes, CellKey.From(change.Key));
            }
        }

        for (var i = 0; i < count; i++)
        {
            numbers[i] = cells[i] is { } cell ? Volatile.Read(ref cell.Word) : -1; // a marker (negative): read through it when the change is reached
        }

        return count;
    }

    /// <summary>
    /// The sales count cell of <paramref name="key"/> (its bucket and product), or <see langword="null"/> if
    /// there is none yet: the companion of the product's stock cell that <paramref name="changes"/> read, if
    /// it is that cell (no lookup, and the batch read prefetched it); otherwise from the table, and then kept
    /// as that companion for the product's next orders.
    /// </summary>
    private SalesCell? SalesCellOf(ReadOnlySpan<Change> changes, CellKey key)
    {
        StockCell? stock = null;
        foreach (ref readonly var change in changes)
        {
            if (change.Key.Table == StoreTable.Stock && change.Key.Low == key.Low && change.Seen.Handle is StockCell read)
            {
                stock = read;
                break;
            }
        }

        if (stock?.Companion is { } companion && companion.Key == key)
        {
            return companion;
        }

        var cell = store.Sales.Find(key) as SalesCell;
        if (stock is not null && cell is not null)
        {
            stock.Companion = cell;
        }

        return cell;
    }

    /// <summary>
    /// The states <paramref name="cells"/> hold (none for a null cell), a level at a time: every cell's content,
    /// then what each content is; a commit in flight's descriptor is left out (null), for the caller to read through.
    /// </summary>
    private static void LoadStates<TCell>(ReadOnlySpan<TCell?> cells, Span<object?> states)
        where TCell : Cell
    {
        // Each cell's key too, which the read checks, on the line after its content as often as not.
        for (var i = 0; i < cells.Length; i++)
        {
            Prefetch.Object(cells[i]);
        }

        for (var i = 0; i < cells.Length; i++)
        {
            states[i] = cells[i] is { } cell ? Volatile.Read(ref cell.Content) : null;
        }

        // Each state's fields with the word of its type, which the check below waits for: a cell's numbers, a product's
        // price, read next, are often on the line after.
        for (var i = 0; i < cells.Length; i++)
        {
            Prefetch.Object(states[i]);
        }

        for (var i = 0; i < cells.Length; i++)
        {
            if (states[i] is CommitDescriptor)
            {
                states[i] = null;
            }
        }
    }

    /// <summary>Up to <see cref="Capacity"/> values (a batch's references, or indexes), on the stack.</summary>
    [InlineArray(Capacity)]
    private struct Loaded<T>
    {
        public const int Capacity = 8;

        private T? _first;
    }

    public ValueTask<ProductRange> ReadProductsAsync(ProductId? after, int limit, ReadBatch rows, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentNullException.ThrowIfNull(rows);
        cancellationToken.ThrowIfCancellationRequested();
        var ids = store.ProductIds.Snapshot;
        var listed = 0;
        var scannedUpTo = long.MaxValue;
        for (var i = ProductIndex.FirstAfter(ids, after?.Value); i < ids.Length; i++)
        {
            if (listed == limit)
            {
                scannedUpTo = ids[i - 1];
                break;
            }

            var key = new CellKey(0, ids[i]);
            var product = Read(store.Products, key);
            if (product.State is null)
            {
                // Listed by a commit still in flight (or one that failed): an absent read, which the commit
                // checks, so a page never misses a product whose commit succeeds before this one.
                rows.Add(new StoreKey(StoreTable.Products, 0, ids[i]), product);
                continue;
            }

            listed++;
            rows.Add(new StoreKey(StoreTable.Products, 0, ids[i]), product);
            rows.Add(new StoreKey(StoreTable.Stock, 0, ids[i]), ReadStock(key));
        }

        return new(new ProductRange(after, scannedUpTo, ProductIndex.CountInRange(ids, after?.Value, scannedUpTo), ids));
    }

    public ValueTask<SalesTop> ReadTopSalesAsync(long firstBucket, long endBucket, int count, ReadBatch rows, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentNullException.ThrowIfNull(rows);
        cancellationToken.ThrowIfCancellationRequested();
        var top = RankingCache.Top(store.Sales, firstBucket, endBucket, count, out var consistent);
        return new(new SalesTop(top.AsReadOnly(), consistent));
    }

    public ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(changes);
        cancellationToken.ThrowIfCancellationRequested();
        if (!changes.HasWrites)
        {
            return new(Validate(changes));
        }

        // The listing's cell is read before the ranges are checked, and the CAS expects it unchanged (see ProductIndex.Listing).
        object? listing = null;
        if (changes.ProductRanges.Count > 0)
        {
            listing = MultiWordCas.Read(store.ProductIds.Listing);
            if (!RangesUnchanged(changes))
            {
                return new(false);
            }

            store.AfterRangeCheck?.Invoke();
        }

        var span = changes.Changes;
        var salesIndexes = default(Loaded<int>);
        var salesCells = default(Loaded<SalesCell>);
        var salesNumbers = default(Loaded<long>);
        var salesFound = FindSales(span, ref salesIndexes, ref salesCells, ref salesNumbers);
        var salesNext = 0;
        var salesEntries = t_sales ??= new SalesEntries();
        salesEntries.Count = 0;
        var stockEntries = t_stock ??= new StockEntries();
        stockEntries.Count = 0;
        var events = changes.Events;
        if (events.Count > 0)
        {
            store.Events.PrefetchCopy(changes); // the log slot the stripe's update copies into, well before it does
        }

        var size = (2 * span.Length) + events.Count + 1; // a wallet's cell replaced takes two, a stripe per event at most, and the products' listing
        var updates = t_scratch is { } scratch && scratch.Length >= size ? scratch : (t_scratch = new CellUpdate[Math.Max(8, size)]);
        var adjusts = t_adjusts is { } known && known.Length >= updates.Length ? known : (t_adjusts = new int[updates.Length]);
        adjusts.AsSpan(0, size).Fill(-1);
        var next = 0;
        SalesBucket? sales = null;
        List<SalesBucket>? moreSales = null;
        var walletWrites = default(SmallList<WalletWrite>);
        var walletWords = t_walletWords ??= new WordList();
        walletWords.Count = 0;
        var ledger = default(SmallList<LedgerInsert>);
        List<CellUpdate>? ledgerReads = null;
        var insertsProduct = false;
        try
        {
            for (var c = 0; c < span.Length; c++)
            {
                ref readonly var change = ref span[c];
                if (change.Kind == ChangeKind.Stable)
                {
                    continue; // A write-once state only read cannot have changed: no check.
                }

                if (change.Key.Table == StoreTable.Ledger)
                {
                    // Folded into the wallet's update below: an entry rides on its wallet's state.
                    if (change.Kind == ChangeKind.Insert)
                    {
                        ledger.Add(LedgerInsert.Of(change));
                    }
                    else if (change.Kind == ChangeKind.Read)
                    {
                        // An entry read absent: its wallet's check (the ledger was no longer then).
                        if (ResolveWallet(change, create: true) is not { Holds: true } walletRead)
                        {
                            return new(false);
                        }

                        (ledgerReads ??= []).Add(walletRead.Check);
                    }
                    else
                    {
                        throw new InvalidOperationException($"Ledger entries are written once: {change.Kind} at {change.Key}.");
                    }

                    continue;
                }

                if (change.Key.Table == StoreTable.Stock && change.Kind != ChangeKind.Insert && (change.Seen.IsQuantity || change.Kind == ChangeKind.Adjust))
                {
                    // A stock present when read, or adjusted: its words' updates are made at each try (see StockWords).
                    if (StockCellOf(change) is not { } stockCell)
                    {
                        return new(false);
                    }

                    stockEntries.Add(c, stockCell);
                    continue;
                }

                if (change.Key.Table == StoreTable.Wallets)
                {
                    // A stored refusal's read of a wallet that does not exist is checked without a cell of its own (see
                    // below, at a read of any other table's key that does not exist).
                    var refusal = change.Kind == ChangeKind.Read && change.Seen.Handle is null && change.Seen.State is null && WritesOnlyIdempotency(changes);
                    if (ResolveWallet(change, create: !refusal) is not { Holds: true } walletRead)
                    {
                        return new(false);
                    }

                    if (refusal)
                    {
                        continue;
                    }

                    if (change.Kind != ChangeKind.Read)
                    {
                        // A write: its updates are made once the entry its commit appends is known (see WrapWallets).
                        if (!Written(change, walletRead, out var length, out var balance))
                        {
                            return new(false);
                        }

                        walletWrites.Add(new WalletWrite(next, change.Key.UserId, walletRead, length, balance));
                    }

                    updates[next++] = walletRead.Check;
                    continue;
                }

                var table = store.TableOf(change.Key.Table);
                var key = CellKey.From(change.Key);
                switch (change.Kind)
                {
                    case ChangeKind.Read:
                    {
                        if (change.Seen.Handle is null && change.Seen.State is null
                            && NeverRemoved(change.Key.Table)
                            && WritesOnlyIdempotency(changes))
                        {
                            // A stored refusal's read of a key that does not exist (a product, its stock, a wallet
                            // never charged, a cart never filled, an order never placed): checked now rather than
                            // pinned by a cell of its own, so that requests naming keys that do not exist leave
                            // nothing behind once their records are purged. Nothing is ever removed from these
                            // tables, so absent now is absent since the read: the refusal holds at its reads, and
                            // its record (all it writes) depends on nothing else.
                            if (table.Find(key) is { } existing && !ReferenceEquals(MultiWordCas.Read(existing), Absent.Value))
                            {
                                return new(false);
                            }

                            break;
                        }

                        if (Seen(change, create: true) is not ({ } cell, var seen))
                        {
                            return new(false);
                        }

                        updates[next++] = new CellUpdate(cell, seen, seen);
                        break;
                    }

                    case ChangeKind.Insert:
                    {
                        if (change.Key.Table == StoreTable.Products)
                        {
                            // List a new product before it can exist, so that a listing never misses a committed one.
                            store.ProductIds.Add(key.Low);
                            insertsProduct = true;
                        }

                        var cell = change.Seen.Handle as Cell ?? table.CreateOrGet(key);
                        updates[next++] = new CellUpdate(cell, Absent.Value, Kept(change));
                        break;
                    }

                    case ChangeKind.Update:
                    {
                        var (cell, expected) = Seen(change, create: true); // a record read compact expects the compact state
                        if (change.Key.Table == StoreTable.Idempotency && cell is not null && store.Idempotency.InSealedGeneration(key, cell))
                        {
                            // Only an expired record is replaced. In a sealed generation it is retired first, as a
                            // purge would, and the new record inserted in the key's fresh cell: replaced in place, a key
                            // reused each time it expires would keep its old generation, with every dead cell in it,
                            // for ever.
                            if (!GenerationalCellTable.RetireExpired(cell, expected))
                            {
                                return new(false);
                            }

                            (cell, expected) = (store.Idempotency.GetOrCreate(key), Absent.Value);
                        }

                        updates[next++] = new CellUpdate(cell!, expected, Kept(change));
                        break;
                    }

                    case ChangeKind.Adjust when change.Key.Table == StoreTable.Sales:
                    {
                        var bucket = store.Sales.GetOrCreateBucket(key.High);
                        if (sales is null)
                        {
                            sales = bucket;
                        }
                        else if (!ReferenceEquals(sales, bucket))
                        {
                            (moreSales ??= []).Add(bucket);
                        }

                        // A sales count found with the others, with the number it held then (unless a commit in flight held it);
                        // its word updates are made once every sales change is known (see SalesWords).
                        var found = salesNext < salesFound && salesIndexes[salesNext] == c ? salesNext++ : -1;
                        var cell = (found >= 0 ? salesCells[found] : null) ?? (SalesCell)table.GetOrCreate(key);
                        salesEntries.Add(c, cell, found >= 0 ? salesNumbers[found] : -1);
                        break;
                    }

                    case ChangeKind.Adjust:
                        throw new InvalidOperationException($"The table of {change.Key} holds no number to adjust.");
                }
            }

            if ((!walletWrites.IsEmpty || !ledger.IsEmpty) && !WrapWallets(updates, ref next, walletWrites, ref ledger, span, walletWords))
            {
                return new(false);
            }

            if (ledgerReads is not null && !AddLedgerReads(updates, ref next, ledgerReads))
            {
                return new(false);
            }

            if (listing is not null || insertsProduct)
            {
                var cell = store.ProductIds.Listing;
                var expected = listing ?? MultiWordCas.Read(cell);
                if (listing is null)
                {
                    adjusts[next] = RenewListing; // only a bump: renewed if another product's commit moved it on
                }

                updates[next++] = new CellUpdate(cell, expected, insertsProduct ? new object() : expected);
            }

            return new(Commit(changes, updates, adjusts, ref next, salesEntries, stockEntries, walletWords, sales, moreSales));
        }
        finally
        {
            // The scratch keeps no state alive.
            updates.AsSpan(0, next).Clear();
            salesEntries.Clear();
            stockEntries.Clear();
            walletWords.Clear();
        }
    }

    /// <summary>
    /// Makes the updates of each wallet written, with the ledger entry the commit appends for that user: over a
    /// wallet that exists, its content replaced by the entry's record (or a <see cref="NoLedgerEntry"/>) and its
    /// numbers moved on in <paramref name="words"/>, after the record the content held goes into the account (it is
    /// committed; see <see cref="WalletCell"/>), before the commit can be seen; over none, the wallet's cell created.
    /// </summary>
    /// <returns>False if an entry's number is one the wallet's ledger has already (the commit then fails, as an insert over an existing key does).</returns>
    /// <exception cref="InvalidOperationException">A ledger entry comes without its wallet, or numbered other than the wallet's new ledger length.</exception>
    private bool WrapWallets(CellUpdate[] updates, ref int next, SmallList<WalletWrite> walletWrites, ref SmallList<LedgerInsert> ledger, ReadOnlySpan<Change> changes, WordList words)
    {
        for (var i = 0; i < walletWrites.Count; i++)
        {
            var write = walletWrites[i];
            LedgerInsert? appended = null;
            for (var j = 0; j < ledger.Count; j++)
            {
                if (ledger[j].UserId == write.UserId)
                {
                    appended = ledger[j];
                    ledger.RemoveAt(j);
                    break;
                }
            }

            if (appended is { } insert && insert.Sequence != write.LedgerLength)
            {
                throw new InvalidOperationException(
                    $"Ledger entry {insert.Sequence} of user {write.UserId} is committed with a wallet whose ledger length is {write.LedgerLength}.");
            }

            var now = write.Read.Now; // default (all zero) for a wallet that does not exist
            if (appended is { Sequence: >= 1 } existing && existing.Sequence <= now.LedgerLength)
            {
                return false; // the entry the ledger has with that number stays
            }

            var content = appended?.Record switch
            {
                null => new NoLedgerEntry(),
                LedgerEntry entry => LedgerRecords.RecordOf(entry, write.LedgerLength, new Money(write.Balance), changes),
                var order => order, // a payment staged as its order (IStoresPaymentsAsOrders): kept as it is
            };

            if (write.Read.Wallet is not { } wallet)
            {
                updates[write.At] = new CellUpdate(write.Read.Keyed!, Absent.Value, new WalletCell(content, write.LedgerLength, write.Balance));
                continue;
            }

            now.CopyForward(wallet);

            // Each number only grows: money in adds to what was received, money out to what was spent, an entry to the length.
            var moved = write.Balance - now.Balance.Amount;
            if (write.LedgerLength < now.LedgerLength
                || (moved > 0 && now.Received > long.MaxValue - moved)
                || (moved < 0 && now.Spent > long.MaxValue + moved))
            {
                // A ledger made shorter (a host's own write), or more money received or spent in all than a word holds:
                // the wallet gets a new cell from these numbers on, sharing the account, and the old one is retired.
                var keyed = store.Wallets.Find(CellKey.From(StoreKey.ForWallet(write.UserId)))!;
                updates[write.At] = new CellUpdate(wallet, now.Content, new RetiredWallet());
                updates[next++] = new CellUpdate(keyed, wallet, new WalletCell(content, write.LedgerLength, write.Balance, wallet.Account));
                continue;
            }

            updates[write.At] = new CellUpdate(wallet, now.Content, content);
            if (write.LedgerLength != now.LedgerLength)
            {
                words.Add(new WordUpdate(wallet, now.LedgerLength, write.LedgerLength));
            }

            if (moved > 0)
            {
                words.Add(new WordUpdate(wallet.Received, now.Received, now.Received + moved));
            }
            else if (moved < 0)
            {
                words.Add(new WordUpdate(wallet.Spent, now.Spent, now.Spent - moved));
            }
        }

        if (!ledger.IsEmpty)
        {
            throw new InvalidOperationException(
                $"Ledger entry {ledger[0].Sequence} of user {ledger[0].UserId} is committed without its wallet (at most one entry per wallet and commit).");
        }

        return true;
    }

    /// <summary>
    /// The ledger length and balance a wallet write (<paramref name="change"/>, over <paramref name="read"/>) leaves: a whole
    /// wallet's; or, for an adjustment, the balance moved by its delta, with one more entry if it is an order's payment
    /// on the wallet's read (see <see cref="StoredState.OfBalance"/>).
    /// </summary>
    /// <returns>False if an adjustment would leave the balance below its minimum (or zero), or overflow it.</returns>
    private static bool Written(in Change change, in WalletRead read, out long ledgerLength, out long balance)
    {
        if (change.Kind != ChangeKind.Adjust)
        {
            var wallet = (Wallet)change.State!;
            (ledgerLength, balance) = (wallet.LedgerLength, wallet.Balance.Amount);
            return true;
        }

        var now = read.Now;
        ledgerLength = change.WasRead && change.Seen.IsBalance ? now.LedgerLength + 1 : now.LedgerLength;
        balance = now.Balance.Amount;
        if (change.Delta > 0 ? balance > long.MaxValue - change.Delta : balance + change.Delta < Math.Max(change.Minimum, 0))
        {
            return false;
        }

        balance += change.Delta;
        return true;
    }

    /// <summary>A wallet written by a commit: its update's index, its user, its read, and the ledger length and balance it leaves.</summary>
    private readonly record struct WalletWrite(int At, UserId UserId, WalletRead Read, long LedgerLength, long Balance);

    /// <summary>
    /// A wallet a change names, as it is now: its cell (if it exists), or its keyed cell (if it has one, holding no
    /// wallet), and whether the change's read still holds (see <see cref="ResolveWallet"/>).
    /// </summary>
    private readonly record struct WalletRead(bool Holds, WalletCell? Wallet, Cell? Keyed, WalletSnapshot Now)
    {
        /// <summary>The update that checks the wallet is still as now (which the read's check found it to be), changing nothing.</summary>
        public CellUpdate Check => Wallet is { } wallet ? new CellUpdate(wallet, Now.Content, Now.Content) : new CellUpdate(Keyed!, Absent.Value, Absent.Value);
    }

    /// <summary>
    /// The wallet of a wallet or ledger change as it is now, and whether the change's read of it still holds: a wallet
    /// read (or a ledger entry read absent from it) through this store holds if its version is the read's (its
    /// numbers all only grow, so none moved since); a read of no wallet, if there is none still; an insert, if there
    /// is none; an adjustment not read first, always. A read not made through this store never holds.
    /// </summary>
    /// <param name="change">The change.</param>
    /// <param name="create">Whether to create the keyed cell of a wallet that has none (so that a commit can check or fill it).</param>
    private WalletRead ResolveWallet(in Change change, bool create)
    {
        var seen = change.Seen.Handle as WalletCell;
        var wallet = seen;
        var now = wallet?.Read() ?? default;
        Cell? keyed = null;
        if (now.IsRetired)
        {
            if (change.WasRead || change.Kind != ChangeKind.Adjust)
            {
                return new(false, wallet, null, now); // its cell was replaced since the read
            }

            wallet = null; // an adjustment not read first: of the wallet's cell now
        }

        if (wallet is null)
        {
            var key = CellKey.From(StoreKey.ForWallet(change.Key.UserId));
            keyed = seen is null ? change.Seen.Handle as Cell : null;
            keyed ??= create ? store.Wallets.GetOrCreate(key) : store.Wallets.Find(key);
            (wallet, now) = keyed is null ? (null, default) : CurrentWallet(keyed); // created since the read, if any
        }

        var holds = change.Kind switch
        {
            ChangeKind.Adjust when !change.WasRead => true,
            ChangeKind.Insert => wallet is null,
            _ when seen is not null => ReferenceEquals(seen, wallet) && now.Version == change.Seen.Version,
            _ => change.Seen.State is null && wallet is null,
        };

        return new(holds, wallet, keyed, now);
    }

    /// <summary>
    /// The wallet a wallet's keyed cell holds now, and its state, if it has one: read again if the cell it found was
    /// retired meanwhile (its replacement is then in the keyed cell, since both changed in one commit).
    /// </summary>
    private static (WalletCell? Wallet, WalletSnapshot Now) CurrentWallet(Cell keyed)
    {
        while (true)
        {
            if (MultiWordCas.Read(keyed) is not WalletCell wallet)
            {
                return (null, default);
            }

            var now = wallet.Read();
            if (!now.IsRetired)
            {
                return (wallet, now);
            }
        }
    }

    /// <summary>
    /// A ledger insert of a change set: an entry, or a payment staged as the order it pays (see
    /// <see cref="IStoresPaymentsAsOrders"/>), numbered by its key.
    /// </summary>
    private readonly record struct LedgerInsert(UserId UserId, long Sequence, object Record)
    {
        public static LedgerInsert Of(in Change change) => change.State switch
        {
            LedgerEntry entry => new(entry.UserId, entry.Sequence, entry),
            Order order when order.UserId == change.Key.UserId => new(order.UserId, change.Key.Low, order),
            _ => throw new InvalidOperationException($"A ledger insert at {change.Key} holds neither an entry nor its payment's order."),
        };
    }

    /// <summary>
    /// Adds the checks of ledger entries read absent: each is a check that its wallet still holds the state
    /// it was read from (the ledger was then shorter). A wallet the commit names already is checked by
    /// that update, if it expects the same state; otherwise the reads were not one snapshot.
    /// </summary>
    private static bool AddLedgerReads(CellUpdate[] updates, ref int next, List<CellUpdate> reads)
    {
        foreach (var read in reads)
        {
            var named = false;
            for (var i = 0; i < next; i++)
            {
                if (ReferenceEquals(updates[i].Cell, read.Cell))
                {
                    if (!ReferenceEquals(updates[i].Expected, read.Expected))
                    {
                        return false;
                    }

                    named = true;
                    break;
                }
            }

            if (!named)
            {
                updates[next++] = read;
            }
        }

        return true;
    }

    public ValueTask<int> PurgeIdempotencyAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken = default)
    {
        // The table checks the token for each cell it looks at, so not at all while it holds none: checked here first.
        cancellationToken.ThrowIfCancellationRequested();
        return new(store.Idempotency.Purge(
            state => state switch
            {
                CompactIdempotencyRecord compact => compact.CreatedAt < createdBefore,
                IdempotencyRecord record => record.CreatedAt < createdBefore,
                _ => false,
            },
            cancellationToken));
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>
    /// Runs the multi-word CAS of <c>updates[..next]</c>, with the updates of the event stripes appended
    /// last (their states read as late as possible). If it fails only because commutative cells moved on
    /// (an event stripe, an adjusted stock or sales count) while every other cell still holds what the
    /// commit expects, the store retries the CAS itself, without running the use case again: the stripes
    /// are read again and the adjusted counts recomputed from what they hold now (if a count's guard no
    /// longer holds, the commit fails, and the use case runs again and refuses). Each such failure means
    /// another commit succeeded, so this keeps the commit lock-free. Orders for one hot product thus no
    /// longer re-run each other.
    /// </summary>
    private bool Commit(ChangeSet changes, CellUpdate[] updates, int[] adjusts, ref int next, SalesEntries salesEntries, StockEntries stockEntries, WordList walletWords, SalesBucket? sales, List<SalesBucket>? moreSales)
    {
        var stripesFrom = next;
        var undecided = false;
        if (sales is null)
        {
            return CommitRetryingCommutative(changes, updates, adjusts, stripesFrom, ref next, salesEntries, stockEntries, walletWords, ref undecided);
        }

        // Tell cached rankings that these buckets may change, from before the commit can be seen until it is decided.
        var stripe = sales.BeginCommit();
        if (moreSales is not null)
        {
            foreach (var bucket in moreSales)
            {
                bucket.BeginCommit(stripe);
            }
        }

        try
        {
            return CommitRetryingCommutative(changes, updates, adjusts, stripesFrom, ref next, salesEntries, stockEntries, walletWords, ref undecided);
        }
        finally
        {
            // A commit whose thread failed inside its multi-word CAS may still be undecided, and whoever meets its
            // descriptor later decides it: its buckets stay announced (rankings read them live), never quiescent.
            if (!undecided)
            {
                sales.EndCommit(stripe);
                if (moreSales is not null)
                {
                    foreach (var bucket in moreSales)
                    {
                        bucket.EndCommit(stripe);
                    }
                }
            }
        }
    }

    /// <summary>
    /// The commit's multi-word CAS, tried again while only commutative cells moved on (see <see cref="Commit"/>);
    /// <paramref name="undecided"/> is set while a CAS runs, and stays set if it threw (its descriptor may be undecided).
    /// </summary>
    private bool CommitRetryingCommutative(ChangeSet changes, CellUpdate[] updates, int[] adjusts, int stripesFrom, ref int next, SalesEntries salesEntries, StockEntries stockEntries, WordList walletWords, ref bool undecided)
    {
        var events = changes.Events;
        var wordsNeeded = walletWords.Count + (2 * (salesEntries.Count + stockEntries.Count)) + events.Count; // two words per count at most, a stripe per event at most
        var words = t_words is { } known && known.Length >= wordsNeeded ? known : (t_words = new WordUpdate[Math.Max(8, wordsNeeded)]);
        var wordCount = 0;
        try
        {
            while (true)
            {
                // The wallets' words as made once: their contents, which the commit expects, hold if a retry comes (see Refresh).
                // The stock and sales counts are built from what their cells hold now, as the stripes are: adjustments commute.
                walletWords.Items.AsSpan(0, walletWords.Count).CopyTo(words);
                wordCount = walletWords.Count;
                if (stockEntries.Count > 0)
                {
                    var stockWords = StockWords(changes.Changes, stockEntries, words.AsSpan(wordCount));
                    wordCount = stockWords < 0 ? -1 : wordCount + stockWords;
                }

                if (wordCount >= 0 && salesEntries.Count > 0)
                {
                    var salesWords = SalesWords(changes.Changes, salesEntries, words.AsSpan(wordCount));
                    wordCount = salesWords < 0 ? -1 : wordCount + salesWords;
                }

                if (wordCount < 0)
                {
                    return false;
                }

                if (events.Count > 0)
                {
                    next = store.Events.AddUpdates(updates, stripesFrom, words, ref wordCount, changes);
                }

                store.BeforeCas?.Invoke();
                // A helper that decides the commit a success wakes the readers waiting for events (this thread may be
                // paused meanwhile), and this thread does once its commit returned a success.
                undecided = true;
                var succeeded = CommitOnce(updates.AsSpan(0, next), words.AsSpan(0, wordCount), events.Count > 0 ? store.Events.SignalWaiting : null);
                undecided = false;
                if (succeeded)
                {
                    if (events.Count > 0)
                    {
                        store.Events.Signal();
                    }

                    return true;
                }

                // The listed ranges are not checked again: the products' listing, read before they were checked, is
                // still what the commit expects (else Refresh refused), so no product committed since; and the ids now
                // include the commit's own new products, which a second check would count as added by another.
                if (!Refresh(updates.AsSpan(0, stripesFrom), adjusts))
                {
                    return false;
                }

                salesEntries.ForgetLoaded();
            }
        }
        finally
        {
            words.AsSpan(0, Math.Max(wordCount, 0)).Clear();
        }
    }

    /// <summary>
    /// The word updates of a change set's sales adjustments (<paramref name="entries"/>), from the numbers
    /// their cells hold now (or were loaded with): an order's units are added to the units placed; a
    /// cancellation's to the units taken back, with the units placed read, so that the count it leaves is
    /// checked against the change's minimum at the commit's instant.
    /// </summary>
    /// <returns>How many updates it wrote to <paramref name="words"/>, or -1 if a count would fall below its minimum or overflow.</returns>
    private static int SalesWords(ReadOnlySpan<Change> changes, SalesEntries entries, Span<WordUpdate> words)
    {
        var count = 0;
        for (var i = 0; i < entries.Count; i++)
        {
            ref readonly var change = ref changes[entries.Changes[i]];
            var cell = entries.Cells[i]!;
            var loaded = entries.Numbers[i];
            var placed = loaded >= 0 ? loaded : MultiWordCas.ReadWord(cell);
            if (change.Delta >= 0 && change.Minimum <= 0)
            {
                // A count is never negative, so adding to it keeps it at the minimum: the units taken back need no read.
                if (change.Delta > long.MaxValue - placed)
                {
                    return -1;
                }

                if (change.Delta > 0)
                {
                    words[count++] = new WordUpdate(cell, placed, placed + change.Delta);
                }

                continue;
            }

            var returnedCell = cell.GetOrCreateReturned();
            var returned = MultiWordCas.ReadWord(returnedCell);
            var taken = change.Delta < 0 ? -change.Delta : 0;
            var added = change.Delta > 0 ? change.Delta : 0;
            if (change.Delta == long.MinValue || taken > long.MaxValue - returned || added > long.MaxValue - placed
                || placed + added - (returned + taken) < change.Minimum)
            {
                return -1;
            }

            words[count++] = new WordUpdate(cell, placed, placed + added);
            words[count++] = new WordUpdate(returnedCell, returned, returned + taken);
        }

        return count;
    }

    /// <summary>The sales changes of the commit on this thread: each one's index among the changes, its cell, and the units placed loaded with it (-1: none).</summary>
    private sealed class SalesEntries : ChangeCells<SalesCell>
    {
        public long[] Numbers = new long[8];

        public void Add(int change, SalesCell cell, long number)
        {
            var at = Append(change, cell); // (Numbers read after the append, which may grow it)
            Numbers[at] = number;
        }

        /// <summary>Drops the loaded numbers: a retry reads what the cells hold then.</summary>
        public void ForgetLoaded() => Numbers.AsSpan(0, Count).Fill(-1);

        protected override void Grow(int length)
        {
            base.Grow(length);
            Array.Resize(ref Numbers, length);
        }
    }

    /// <summary>
    /// Changes of the commit on this thread whose updates are made again at each try, each with its cell: its index
    /// among the changes, and the cell (kept until the commit returns, then cleared: the scratch keeps no cell alive).
    /// </summary>
    private abstract class ChangeCells<TCell>
        where TCell : Cell
    {
        public int[] Changes = new int[8];
        public TCell?[] Cells = new TCell?[8];
        public int Count;

        public void Clear()
        {
            Cells.AsSpan(0, Count).Clear();
            Count = 0;
        }

        /// <summary>Appends a change and its cell, growing the arrays when full; returns the entry's index.</summary>
        protected int Append(int change, TCell cell)
        {
            if (Count == Changes.Length)
            {
                Grow(Count * 2);
            }

            Changes[Count] = change;
            Cells[Count] = cell;
            return Count++;
        }

        /// <summary>Grows every per-entry array to <paramref name="length"/>.</summary>
        protected virtual void Grow(int length)
        {
            Array.Resize(ref Changes, length);
            Array.Resize(ref Cells, length);
        }
    }

    /// <summary>
    /// The stock cell a change names: the one it read (its handle), or the one its product's keyed cell holds now
    /// (an adjustment of a stock not read); <see langword="null"/> if the product has no stock (the commit then
    /// fails, as an adjustment of nothing does), or if a read of it did not come from this store.
    /// </summary>
    private StockCell? StockCellOf(in Change change)
    {
        if (change.Seen.Handle is StockCell read)
        {
            return read;
        }

        if (change.Kind != ChangeKind.Adjust)
        {
            return null;
        }

        var keyed = change.Seen.Handle as Cell ?? store.Inventory.Find(CellKey.From(change.Key));
        return keyed is null ? null : MultiWordCas.Read(keyed) as StockCell;
    }

    /// <summary>
    /// The word updates of a change set's stock changes (<paramref name="entries"/>), from the numbers their cells
    /// hold now:
    /// <list type="bullet">
    /// <item>a read expects both numbers it saw (the commit fails if either moved on), and changes neither;</item>
    /// <item>a write of a whole <see cref="StockItem"/> over a read expects both, and moves one of them on by the difference;</item>
    /// <item>
    /// an adjustment that takes units adds them to the units taken, checking the quantity left against its
    /// minimum with the units received read now: they only grow, so the check holds at the commit's instant too;
    /// one that adds units adds them to the units received, checking the quantity's upper bound with the units
    /// taken read now (they only grow too), and expects the units taken as well only if its minimum is above zero.
    /// </item>
    /// </list>
    /// The two numbers are read one after the other, not as of one instant: a number the CAS expects is checked there,
    /// and one it does not expect only grows, so any earlier read of it bounds it from below.
    /// </summary>
    /// <returns>How many updates it wrote to <paramref name="words"/>, or -1 if a read no longer holds, or a quantity would fall below its minimum or above <see cref="int.MaxValue"/>.</returns>
    private static int StockWords(ReadOnlySpan<Change> changes, StockEntries entries, Span<WordUpdate> words)
    {
        var count = 0;
        for (var i = 0; i < entries.Count; i++)
        {
            ref readonly var change = ref changes[entries.Changes[i]];
            var cell = entries.Cells[i]!;
            var takenNow = MultiWordCas.ReadWord(cell); // first: the units received read after are at least those of that instant
            var now = new StockNumbers(MultiWordCas.ReadWord(cell.Received), takenNow);
            if (change.Kind != ChangeKind.Adjust)
            {
                var seen = SeenNumbers(change.Seen);
                if (now != seen)
                {
                    return -1;
                }

                var onHand = change.Kind == ChangeKind.Update ? ((StockItem)change.State!).OnHand : seen.OnHand;
                var taken = seen.Taken + Math.Max(seen.OnHand - onHand, 0);
                var received = seen.Received + Math.Max(onHand - seen.OnHand, 0);
                words[count++] = new WordUpdate(cell, seen.Taken, taken);
                words[count++] = new WordUpdate(cell.Received, seen.Received, received);
                continue;
            }

            var minimum = Math.Max(change.Minimum, 0); // a stock is never negative
            if (change.Delta <= 0)
            {
                var take = -change.Delta; // at most int.MaxValue (see IInventoryRepository.Adjust)
                if (now.Taken > long.MaxValue - take || now.Received - (now.Taken + take) < minimum)
                {
                    return -1;
                }

                words[count++] = new WordUpdate(cell, now.Taken, now.Taken + take);
                continue;
            }

            if (now.Received > long.MaxValue - change.Delta || now.OnHand + change.Delta > int.MaxValue || now.OnHand + change.Delta < minimum)
            {
                return -1;
            }

            words[count++] = new WordUpdate(cell.Received, now.Received, now.Received + change.Delta);
            if (minimum > 0)
            {
                words[count++] = new WordUpdate(cell, now.Taken, now.Taken);
            }
        }

        return count;
    }

    /// <summary>Word updates made once per commit on this thread (its wallets'), kept for each try; cleared when the commit returns.</summary>
    private sealed class WordList
    {
        public WordUpdate[] Items = new WordUpdate[8];
        public int Count;

        public void Add(WordUpdate update)
        {
            if (Count == Items.Length)
            {
                Array.Resize(ref Items, Count * 2);
            }

            Items[Count++] = update;
        }

        public void Clear()
        {
            Items.AsSpan(0, Count).Clear();
            Count = 0;
        }
    }

    /// <summary>The stock changes of the commit on this thread held in stock words: each one's index among the changes, and its cell.</summary>
    private sealed class StockEntries : ChangeCells<StockCell>
    {
        public void Add(int change, StockCell cell) => Append(change, cell);
    }

    /// <summary>In <c>adjusts</c>: the update of the products' listing by a commit that inserts a product and read no range.</summary>
    private const int RenewListing = -2;

    /// <summary>
    /// Whether a failed commit may be tried again as it stands: every cell of its object updates still holds
    /// the state the commit expects there, except the products' listing bumped by a product's insert that
    /// read no range, which is bumped again from what it holds now. (Stock and sales counts, and the event
    /// stripes, are word updates, made again from what their cells hold at each try.)
    /// </summary>
    private static bool Refresh(Span<CellUpdate> updates, int[] adjusts)
    {
        for (var i = 0; i < updates.Length; i++)
        {
            var update = updates[i];
            var current = MultiWordCas.Read(update.Cell);
            if (ReferenceEquals(current, update.Expected))
            {
                continue;
            }

            if (adjusts[i] == RenewListing)
            {
                updates[i] = new CellUpdate(update.Cell, current, new object());
                continue;
            }

            return false;
        }

        return true;
    }

    /// <summary>
    /// One multi-word CAS, with a descriptor reused from this thread's pool when one is free; the descriptor
    /// goes back once the commit returns. A commit that dies on the way (a fault injected through
    /// <see cref="InMemoryCommerceStore.AfterInstall"/>) never gives its descriptor back, so it is never reused.
    /// </summary>
    private bool CommitOnce(ReadOnlySpan<CellUpdate> updates, ReadOnlySpan<WordUpdate> words, Action? onSucceeded = null)
    {
        var descriptor = CommitDescriptor.Rent(updates, words, onSucceeded);
        var succeeded = MultiWordCas.Commit(descriptor, store.AfterInstall);
        CommitDescriptor.Release(descriptor);
        return succeeded;
    }

    /// <summary>
    /// A wallet: its numbers (<see cref="StoredState.OfBalance"/>, with its <see cref="WalletSnapshot.Version"/> and its
    /// <see cref="WalletCell"/> as the handle); or absent, with its keyed cell as the handle if it has one.
    /// </summary>
    private StoredState ReadWallet(UserId user, KeyedCell? slot = null, object? content = null)
    {
        var (read, wallet, now) = LoadWallet(user, slot, content);
        return wallet is null ? read : StoredState.OfBalance(now.Balance, now.LedgerLength, now.Version, wallet);
    }

    /// <summary>
    /// A user's wallet through its keyed cell (<paramref name="slot"/> and <paramref name="content"/> as <see cref="Read(CellTable, CellKey, KeyedCell?, object?)"/>
    /// takes them): the cell's read, and the wallet's cell and state if it has one (its replacement's, if the cell
    /// found was retired meanwhile).
    /// </summary>
    private (StoredState Read, WalletCell? Wallet, WalletSnapshot Now) LoadWallet(UserId user, KeyedCell? slot, object? content)
    {
        var read = Read(store.Wallets, CellKey.From(StoreKey.ForWallet(user)), slot, content);
        if (read.State is not WalletCell found)
        {
            return (read, null, default);
        }

        var now = found.Read();
        var (wallet, current) = now.IsRetired ? CurrentWallet((Cell)read.Handle!) : (found, now);
        return (read, wallet, current);
    }

    /// <summary>
    /// A ledger entry, from its wallet: present once the wallet's ledger is that long (it can never change again);
    /// absent otherwise, with the wallet's version and cell (or its keyed cell, or none) as the read, which a commit checks.
    /// </summary>
    private StoredState ReadLedger(in StoreKey key, KeyedCell? slot = null, object? content = null)
    {
        var (read, wallet, now) = LoadWallet(key.UserId, slot, content);
        if (wallet is null)
        {
            return new StoredState(null, 0, read.Handle);
        }

        return now.Entry(key.Low, wallet.Account) is { } entry ? new StoredState(entry) : new StoredState(null, now.Version, wallet);
    }

    /// <summary>
    /// The cell a change names and the state the unit of work read there, which a commit expects there
    /// (for a ledger entry read absent: its wallet's cell and state). A <see langword="null"/> cell: the key
    /// has no cell and <paramref name="create"/> is false (the expected state is then absent), or the read
    /// can no longer hold (a wallet read not through this store, which the wallet no longer holds).
    /// </summary>
    private (Cell? Cell, object Expected) Seen(in Change change, bool create)
    {
        switch (change.Seen.Handle)
        {
            case Cell cell:
                return (cell, change.Seen.State ?? Absent.Value);
            case CompactRead compact:
                return (compact.Cell, compact.State);
        }

        // No handle (read absent before the key had a cell, or not read through this store).
        var table = store.TableOf(change.Key.Table);
        return (create ? table.GetOrCreate(CellKey.From(change.Key)) : table.Find(CellKey.From(change.Key)), change.Seen.State ?? Absent.Value);
    }

    /// <summary>
    /// Whether a key of <paramref name="table"/>, once present, stays present: no write removes a product, a
    /// stock item, a wallet, a cart (an emptied cart stays, empty) or an order. Only idempotency records are
    /// purged, and sales counts are not read this way.
    /// </summary>
    private static bool NeverRemoved(StoreTable table) =>
        table is StoreTable.Products or StoreTable.Stock or StoreTable.Wallets or StoreTable.Carts or StoreTable.Orders;

    /// <summary>Whether a commit writes idempotency records only (a keyed request's stored refusal), and publishes nothing.</summary>
    private static bool WritesOnlyIdempotency(ChangeSet changes)
    {
        if (changes.Events.Count > 0)
        {
            return false;
        }

        foreach (ref readonly var change in changes.Changes)
        {
            if (change.Kind is not (ChangeKind.Read or ChangeKind.Stable) && change.Key.Table != StoreTable.Idempotency)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The state to write for an insertion or update: a success's idempotency record compact, also when it
    /// was saved whole (through <see cref="IIdempotencyRepository.Save"/>); see <see cref="IStoresCompactIdempotencyRecords"/>.
    /// </summary>
    private static object Kept(in Change change) => change.State switch
    {
        IdempotencyRecord record when change.Key.Table == StoreTable.Idempotency => CompactIdempotencyRecord.Of(record) ?? (object)record,
        StockItem stock => new StockCell(stock.OnHand), // kept as its numbers from then on
        var state => state!,
    };

    /// <summary>
    /// A cell's read: <paramref name="slot"/>, if it is <paramref name="key"/>'s cell, with the state it held,
    /// <paramref name="content"/> (if not <see langword="null"/>; a state, not a descriptor); else the
    /// table's cell of the key, read now.
    /// </summary>
    private static StoredState Read(CellTable table, CellKey key, KeyedCell? slot = null, object? content = null)
    {
        var cell = slot is not null && slot.Key == key ? slot : table.Find(key);
        if (cell is null)
        {
            return StoredState.Absent;
        }

        return ReadOf(cell, ReferenceEquals(cell, slot) && content is not null ? content : MultiWordCas.Read(cell));
    }

    /// <summary>The read of <paramref name="cell"/>, which held <paramref name="state"/> (a state, not a descriptor).</summary>
    private static StoredState ReadOf(Cell cell, object state) =>
        ReferenceEquals(state, Retired.Value)
            ? StoredState.Absent // Purged after the lookup: absent, and the commit will use a fresh cell.
            : new StoredState(ReferenceEquals(state, Absent.Value) ? null : state, 0, cell);

    private bool Validate(ChangeSet changes)
    {
        // One read is a snapshot by itself. Two are not, even if one of them can no longer change: a
        // product read present after a wallet changed did not exist when the wallet was read.
        var span = changes.Changes;
        if (span.Length + changes.ProductRanges.Count <= 1)
        {
            return true;
        }

        foreach (ref readonly var change in span)
        {
            if (change.Kind == ChangeKind.Stable)
            {
                continue;
            }

            if (change.Seen.IsQuantity)
            {
                // Both numbers only grow: the same numbers now mean they held since the read.
                if (change.Seen.Handle is not StockCell stock || stock.Read() != SeenNumbers(change.Seen))
                {
                    return false;
                }

                continue;
            }

            if (change.Key.Table is StoreTable.Wallets or StoreTable.Ledger)
            {
                // A wallet's numbers only grow: the same version now means none moved since the read.
                if (!ResolveWallet(change, create: false).Holds)
                {
                    return false;
                }

                continue;
            }

            var (cell, seen) = Seen(change, create: false);
            if (!ReferenceEquals(cell is null ? Absent.Value : MultiWordCas.Read(cell), seen))
            {
                return false;
            }
        }

        return RangesUnchanged(changes);
    }

    private bool RangesUnchanged(ChangeSet changes)
    {
        var ranges = changes.ProductRanges;
        if (ranges.Count == 0)
        {
            return true;
        }

        var ids = store.ProductIds.Snapshot;
        foreach (var range in ranges)
        {
            if (!ReferenceEquals(ids, range.Token) && ProductIndex.CountInRange(ids, range.After?.Value, range.UpTo) != range.Count)
            {
                return false;
            }
        }

        return true;
    }
}
