namespace Commerce.Storage;

/// <summary>Wallets inside a unit of work.</summary>
public interface IWalletRepository
{
    /// <summary>Reads a wallet.</summary>
    /// <param name="userId">The owner.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The wallet, or <see langword="null"/> if the user was never charged.</returns>
    ValueTask<Wallet?> FindAsync(UserId userId, CancellationToken cancellationToken = default);

    /// <summary>Stages a wallet's new state.</summary>
    /// <param name="wallet">The new state.</param>
    void Save(Wallet wallet);
}
