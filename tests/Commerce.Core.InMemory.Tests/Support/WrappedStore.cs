using Commerce.Conformance;
using Commerce.Storage;

namespace Commerce.InMemory.Tests.Support;

/// <summary>How a <see cref="WrappedStore"/> departs from the store it wraps.</summary>
internal enum Fault
{
    /// <summary>None: every call goes to the real unit of work (only the hook is added).</summary>
    None,

    /// <summary>
    /// Wallet reads bypass the unit of work, so the commit never checks them, wallet writes are applied
    /// blindly after the rest commits, and ledger entries are dropped: a lost update waiting for a concurrent charge.
    /// </summary>
    UncheckedWalletRead,

    /// <summary>Orders are placed but their sales are never recorded: the ranking misses committed orders.</summary>
    SalesNotRecorded,
}

/// <summary>
/// A store around another (here, the in-memory one), for tests: it can call a hook right after each read of a wallet (to
/// force interleavings deterministically) and can inject one <see cref="Fault"/>, to show the checks catch it.
/// </summary>
internal sealed class WrappedStore(ICommerceStore inner, Fault fault, Action? afterWalletRead = null) : ICommerceStore
{
    public async ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) =>
        new Session(this, await inner.OpenSessionAsync(cancellationToken));

    private sealed class Session(WrappedStore store, IStoreSession session) : DelegatingStoreSession(session)
    {
        public override async ValueTask ReadAsync(ReadBatch batch, CancellationToken cancellationToken = default)
        {
            await Inner.ReadAsync(batch, cancellationToken);
            for (var i = 0; i < batch.Count; i++)
            {
                if (batch[i].Table == StoreTable.Wallets)
                {
                    store._afterWalletRead?.Invoke();
                }
            }
        }

        public override async ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken = default)
        {
            var kept = new ChangeSet();
            var blindWallets = new List<Wallet>();
            foreach (var change in changes.Changes)
            {
                if (store._fault == Fault.UncheckedWalletRead && change.Key.Table == StoreTable.Ledger)
                {
                    continue; // The ledger's numbering would otherwise catch the lost update this fault is about.
                }

                if (store._fault == Fault.UncheckedWalletRead && change.Key.Table == StoreTable.Wallets)
                {
                    // Not checked at all; a write is applied blindly once the rest has committed.
                    if (change.State is Wallet wallet)
                    {
                        blindWallets.Add(wallet);
                    }

                    continue;
                }

                if (store._fault == Fault.SalesNotRecorded && change.Key.Table == StoreTable.Sales)
                {
                    continue;
                }

                kept.Add(change);
            }

            foreach (var range in changes.ProductRanges)
            {
                kept.AddRange(range);
            }

            if (!await Inner.CommitAsync(kept, cancellationToken))
            {
                return false;
            }

            foreach (var wallet in blindWallets)
            {
                while (true)
                {
                    var read = new ReadBatch();
                    var key = StoreKey.ForWallet(wallet.UserId);
                    read.Request(key);
                    await Inner.ReadAsync(read, cancellationToken);
                    var seen = read.Results[0];
                    var overwrite = new ChangeSet();
                    overwrite.Add(new Change(key, seen.State is null ? ChangeKind.Insert : ChangeKind.Update, true, seen, wallet, 0, 0));
                    if (await Inner.CommitAsync(overwrite, cancellationToken))
                    {
                        break;
                    }
                }
            }

            return true;
        }
    }

    private readonly Fault _fault = fault;
    private readonly Action? _afterWalletRead = afterWalletRead;
}
