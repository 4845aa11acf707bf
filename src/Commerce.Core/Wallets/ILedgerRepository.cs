namespace Commerce.Storage;

/// <summary>Wallet ledgers inside a unit of work.</summary>
public interface ILedgerRepository
{
    /// <summary>Reads one entry of a user's ledger.</summary>
    /// <param name="userId">The user.</param>
    /// <param name="sequence">The entry's number, from 1.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The entry, or <see langword="null"/> if there is none with that number.</returns>
    ValueTask<LedgerEntry?> FindAsync(UserId userId, long sequence, CancellationToken cancellationToken = default);

    /// <summary>Stages a new entry; the commit fails if the user's ledger has an entry with its number by then.</summary>
    /// <param name="entry">The entry.</param>
    /// <exception cref="ArgumentNullException"><paramref name="entry"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The entry's <see cref="LedgerEntry.Sequence"/> is less than 1.</exception>
    void Add(LedgerEntry entry);
}
