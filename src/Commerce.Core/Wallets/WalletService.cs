using Commerce.Storage;

namespace Commerce;

/// <summary>Charges wallets and reads balances, through the store's units of work.</summary>
internal sealed class WalletService(CommerceRuntime runtime) : IWalletService
{
    public async ValueTask<Result<Money>> ChargeAsync(UserId user, Money amount, CancellationToken cancellationToken = default)
    {
        var result = await runtime.RunAsync(
            "Charge",
            (user, amount, runtime.Options),
            static async (unitOfWork, state, ct) =>
            {
                var (user, amount, options) = state;
                var wallet = await unitOfWork.Wallets.FindAsync(user, ct).ConfigureAwait(false) ?? Wallet.Empty(user);
                var charged = wallet.Charge(amount, options.MaxChargeAmount, options.MaxBalance);
                if (charged.IsFailure)
                {
                    return Result<Money>.Failure(charged.Error);
                }

                unitOfWork.Wallets.Save(charged.Value);
                return charged.Value.Balance;
            },
            cancellationToken).ConfigureAwait(false);

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

    public ValueTask<Money> GetBalanceAsync(UserId user, CancellationToken cancellationToken = default) =>
        runtime.ReadAsync(
            "GetBalance",
            user,
            static async (unitOfWork, user, ct) =>
            {
                var wallet = await unitOfWork.Wallets.FindAsync(user, ct).ConfigureAwait(false);
                return Result<Money>.Success(wallet?.Balance ?? Money.Zero);
            },
            cancellationToken);
}
