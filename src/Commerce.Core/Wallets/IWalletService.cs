namespace Commerce;

/// <summary>Charges wallets and reads balances and their ledgers.</summary>
/// <remarks>Thread-safe: any number of concurrent calls, on any wallets, never lose an update.</remarks>
public interface IWalletService
{
    /// <summary>Adds money to a user's wallet, creating it on the first charge.</summary>
    /// <param name="user">The owner.</param>
    /// <param name="amount">The amount: positive, at most <see cref="CommerceOptions.MaxChargeAmount"/>.</param>
    /// <param name="cancellationToken">Cancels the operation; a cancelled charge is either fully applied or not at all.</param>
    /// <returns>
    /// The new balance, or a failure that changed nothing: <see cref="CommerceErrorCode.InvalidAmount"/>,
    /// <see cref="CommerceErrorCode.ChargeLimitExceeded"/>, <see cref="CommerceErrorCode.BalanceLimitExceeded"/>,
    /// <see cref="CommerceErrorCode.ConcurrencyConflict"/> or <see cref="CommerceErrorCode.StoreUnavailable"/>.
    /// </returns>
    /// <exception cref="CommitOutcomeUnknownException">
    /// The store could not tell whether the change was applied (for example a database connection failed
    /// during the commit): it was applied entirely or not at all; read the state to find out which.
    /// Only stores that talk to a server raise it; the in-memory store never does.
    /// </exception>
    /// <exception cref="ObjectDisposedException">
    /// The store was disposed (with the service provider that created it). A request its arguments alone refuse
    /// (an amount that is not positive or above the per-charge limit) needs no store and gets that refusal, disposed or not.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed (a use case cancelled before its commit applies nothing).</exception>
    ValueTask<Result<Money>> ChargeAsync(UserId user, Money amount, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds money to a user's wallet once per <paramref name="key"/>: the first call runs and stores its
    /// outcome (the new balance, or the refusal) in the same commit; a repeat with the same key and amount
    /// within <see cref="CommerceOptions.IdempotencyRetention"/> returns that outcome and changes nothing.
    /// </summary>
    /// <param name="user">The owner.</param>
    /// <param name="amount">The amount: positive, at most <see cref="CommerceOptions.MaxChargeAmount"/>.</param>
    /// <param name="key">The client's key for this request (scoped to the user and to charges).</param>
    /// <param name="cancellationToken">Cancels the operation; a cancelled charge is either fully applied (with its key) or not at all.</param>
    /// <returns>
    /// As <see cref="ChargeAsync(UserId, Money, CancellationToken)"/>, or <see cref="CommerceErrorCode.InvalidIdempotencyKey"/>
    /// (an empty, too long or non-printable key) or <see cref="CommerceErrorCode.IdempotencyKeyReused"/> (the key was used
    /// for a different amount), both changing nothing. Refusals that do not depend on state (an invalid amount,
    /// one above the per-charge limit) are not stored: a repeat gets the same answer anyway.
    /// <see cref="CommerceErrorCode.ConcurrencyConflict"/> and <see cref="CommerceErrorCode.StoreUnavailable"/> are not stored.
    /// </returns>
    /// <exception cref="CommitOutcomeUnknownException">
    /// The store could not tell whether the change was applied; call again with the same key to learn the outcome.
    /// </exception>
    /// <exception cref="ObjectDisposedException">
    /// The store was disposed (with the service provider that created it). A request its arguments alone refuse
    /// (an invalid key, an amount that is not positive or above the per-charge limit) needs no store and gets that refusal, disposed or not.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed (a use case cancelled before its commit applies nothing).</exception>
    ValueTask<Result<Money>> ChargeAsync(UserId user, Money amount, IdempotencyKey key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads a user's ledger, oldest first: every charge, payment and refund, numbered 1, 2, 3, … without gaps.
    /// </summary>
    /// <param name="user">The owner.</param>
    /// <param name="afterSequence">Only entries numbered above this (0 from the first).</param>
    /// <param name="limit">The most entries: 1 to 1,000.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>Up to <paramref name="limit"/> entries, read as one consistent snapshot; none for a user never charged.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="afterSequence"/> is negative or <paramref name="limit"/> is outside 1 to 1,000.</exception>
    /// <exception cref="StoreUnavailableException">The store refused the last of the attempts the retry budget allows (see <see cref="CommerceOptions.MaxCommitAttempts"/>).</exception>
    /// <exception cref="InvalidOperationException">Every attempt the retry budget allows met a concurrent commit that changed what it read.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed (with the service provider that created it).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed.</exception>
    ValueTask<IReadOnlyList<LedgerEntry>> GetLedgerAsync(UserId user, long afterSequence = 0, int limit = 100, CancellationToken cancellationToken = default);

    /// <summary>Reads a user's balance.</summary>
    /// <param name="user">The owner.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The balance; zero for a user never charged.</returns>
    /// <exception cref="StoreUnavailableException">The store refused the last of the attempts the retry budget allows (see <see cref="CommerceOptions.MaxCommitAttempts"/>).</exception>
    /// <exception cref="InvalidOperationException">Every attempt the retry budget allows met a concurrent commit that changed what it read.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed (with the service provider that created it).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed.</exception>
    ValueTask<Money> GetBalanceAsync(UserId user, CancellationToken cancellationToken = default);
}
