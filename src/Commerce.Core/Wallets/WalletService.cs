using Commerce.Events;
using Commerce.Storage;

namespace Commerce;

/// <summary>Charges wallets, reads balances and ledgers, through the store's units of work.</summary>
internal sealed class WalletService(CommerceRuntime runtime) : IWalletService
{
    public async ValueTask<Result<Money>> ChargeAsync(UserId user, Money amount, CancellationToken cancellationToken = default)
    {
        var scope = runtime.Telemetry.Start(UseCase.Charge, user);

        // An amount refused by itself is refused before the store is asked, as under a key (no connection for it).
        var refusal = AmountRefusal(amount);
        if (refusal is not null)
        {
            scope.ThrowIfCancellationRequested(cancellationToken);
        }

        return scope.EndCharge(Logged(user, amount, refusal is not null
            ? Result<Money>.Failure(refusal)
            : await runtime.RunAsync(
                scope,
                "Charge",
                (user, amount, runtime),
                static (unitOfWork, state, ct) => ChargeOnceAsync(unitOfWork, state, ct),
                cancellationToken).ConfigureAwait(false)));
    }

    public async ValueTask<Result<Money>> ChargeAsync(UserId user, Money amount, IdempotencyKey key, CancellationToken cancellationToken = default)
    {
        var scope = runtime.Telemetry.Start(UseCase.Charge, user);
        var refusal = !key.IsValid ? Errors.InvalidIdempotencyKey(key) : AmountRefusal(amount);
        if (refusal is not null)
        {
            scope.ThrowIfCancellationRequested(cancellationToken);
        }

        var (result, replayed) = refusal is not null ? (Result<Money>.Failure(refusal), false)
            : await Idempotent.RunAsync(runtime, KeyedCharge, new Idempotent.Request(user, key, amount.Amount), (user, amount, runtime), scope, cancellationToken).ConfigureAwait(false);
        // A replay applied nothing: its stored outcome was logged when it happened.
        return scope.EndCharge(replayed ? result : Logged(user, amount, result), replayed);
    }

    /// <summary>The refusal of an amount no wallet could be charged (not positive, or above the per-charge limit), or <see langword="null"/>.</summary>
    private CommerceError? AmountRefusal(Money amount) =>
        !amount.IsPositive ? Errors.NonPositiveAmount(amount)
        : amount > runtime.Options.MaxChargeAmount ? Errors.ChargeLimitExceeded(amount, runtime.Options.MaxChargeAmount)
        : null;

    /// <summary>A charge under an idempotency key: its record keeps the balance after it.</summary>
    private static readonly Idempotent.KeyedUseCase<(UserId User, Money Amount, CommerceRuntime Runtime), Money> KeyedCharge = new(
        "Charge",
        IdempotentOperation.Charge,
        static (unitOfWork, state) => unitOfWork.Prefetch(StoreKey.ForWallet(state.User)),
        static (unitOfWork, state, ct) => ChargeOnceAsync(unitOfWork, state, ct),
        static balance => (balance, null),
        static (_, record, _) => new(record.Error is { } error ? Result<Money>.Failure(error) : record.Balance));

    public ValueTask<Money> GetBalanceAsync(UserId user, CancellationToken cancellationToken = default) =>
        runtime.ReadAsync(
            "GetBalance",
            user,
            static async (unitOfWork, user, ct) =>
            {
                // As numbers: over a store that keeps wallets so, the query makes no Wallet.
                var wallet = await UnitOfWork.FindWalletNumbersAsync(unitOfWork, user, ct).ConfigureAwait(false);
                return Result<Money>.Success(wallet?.Balance ?? Money.Zero);
            },
            cancellationToken);

    public ValueTask<IReadOnlyList<LedgerEntry>> GetLedgerAsync(UserId user, long afterSequence = 0, int limit = 100, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(afterSequence);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, CommerceOptions.MaxListLimit);
        return runtime.ReadAsync(
            "GetLedger",
            (user, afterSequence, limit),
            static async (unitOfWork, state, ct) =>
            {
                var (user, after, limit) = state;
                var length = (await unitOfWork.Wallets.FindAsync(user, ct).ConfigureAwait(false))?.LedgerLength ?? 0;
                after = Math.Min(after, length); // past the end reads nothing, and after + limit cannot overflow
                var last = Math.Min(length, after + limit);
                for (var sequence = after + 1; sequence <= last; sequence++)
                {
                    unitOfWork.Prefetch(StoreKey.ForLedger(user, sequence));
                }

                await unitOfWork.LoadAsync(ct).ConfigureAwait(false);
                var entries = new List<LedgerEntry>((int)Math.Max(0, last - after));
                for (var sequence = after + 1; sequence <= last; sequence++)
                {
                    entries.Add(await unitOfWork.Ledger.FindAsync(user, sequence, ct).ConfigureAwait(false)
                        ?? throw new InvalidOperationException($"The ledger of user {user} has no entry {sequence}, below its length {length}."));
                }

                return Result<IReadOnlyList<LedgerEntry>>.Success(entries.AsReadOnly());
            },
            cancellationToken);
    }

    /// <summary>One attempt of a charge: the new balance and its ledger entry, staged together.</summary>
    private static async ValueTask<Result<Money>> ChargeOnceAsync(IUnitOfWork unitOfWork, (UserId User, Money Amount, CommerceRuntime Runtime) state, CancellationToken ct)
    {
        var (user, amount, runtime) = state;
        var options = runtime.Options;

        // Read as numbers: over a store that keeps wallets so, no Wallet is made for the read or the charge.
        var funds = await UnitOfWork.FindWalletNumbersAsync(unitOfWork, user, ct).ConfigureAwait(false);
        if (Wallet.ChargeRefusal(funds?.Balance ?? Money.Zero, amount, options.MaxChargeAmount, options.MaxBalance) is { } refusal)
        {
            return Result<Money>.Failure(refusal);
        }

        var now = runtime.UtcNow();
        var entry = UnitOfWork.Credit(unitOfWork, user, funds, amount, LedgerEntryKind.Charge, null, now);
        if (options.PublishEvents)
        {
            if (unitOfWork is UnitOfWork own)
            {
                own.PublishWalletCharged(entry); // the event is made from the entry only if a store reads it
            }
            else
            {
                unitOfWork.Publish(new WalletCharged(user, amount, entry.BalanceAfter, now));
            }
        }

        return entry.BalanceAfter;
    }

    private Result<Money> Logged(UserId user, Money amount, Result<Money> result)
    {
        if (result.IsSuccess)
        {
            Log.WalletCharged(runtime.Logger, user, amount, result.Value);
        }
        else
        {
            Log.ChargeRefused(runtime.Logger, user, amount, result.Error.Code, result.Error.Message);
        }

        return result;
    }
}
