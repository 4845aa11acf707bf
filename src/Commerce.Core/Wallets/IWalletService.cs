namespace Commerce;

/// <summary>Charges wallets and reads balances.</summary>
/// <remarks>Thread-safe: any number of concurrent calls, on any wallets, never lose an update.</remarks>
public interface IWalletService
{
    /// <summary>Adds money to a user's wallet, creating it on the first charge.</summary>
    /// <param name="user">The owner.</param>
    /// <param name="amount">The amount: positive, at most <see cref="CommerceOptions.MaxChargeAmount"/>.</param>
    /// <param name="cancellationToken">Cancels the operation; a cancelled charge is either fully applied or not at all.</param>
    /// <returns>
    /// The new balance, or a failure that changed nothing: <see cref="CommerceErrorCode.InvalidAmount"/>,
    /// <see cref="CommerceErrorCode.ChargeLimitExceeded"/>, <see cref="CommerceErrorCode.BalanceLimitExceeded"/>
    /// or <see cref="CommerceErrorCode.ConcurrencyConflict"/>.
    /// </returns>
    /// <exception cref="CommitOutcomeUnknownException">
    /// The store could not tell whether the change was applied (for example a database connection failed
    /// during the commit): it was applied entirely or not at all; read the state to find out which.
    /// Only stores that talk to a server raise it; the in-memory store never does.
    /// </exception>
    ValueTask<Result<Money>> ChargeAsync(UserId user, Money amount, CancellationToken cancellationToken = default);

    /// <summary>Reads a user's balance.</summary>
    /// <param name="user">The owner.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The balance; zero for a user never charged.</returns>
    ValueTask<Money> GetBalanceAsync(UserId user, CancellationToken cancellationToken = default);
}
