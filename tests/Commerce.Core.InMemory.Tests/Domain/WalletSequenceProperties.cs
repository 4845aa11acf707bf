using Commerce.Conformance;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Commerce.InMemory.Tests.Domain;

/// <summary>Any sequence of wallet transitions keeps the balance in [0, max] and equal to charges − payments + refunds.</summary>
[Properties(Replay = "20261206,1442695040888963407")]
public sealed class WalletSequenceProperties
{
    private const long MaxCharge = 10_000;
    private const long MaxBalance = 50_000;

    internal enum Kind { Charge, Debit, Refund }

    internal readonly record struct Op(Kind Kind, long Amount)
    {
        public override string ToString() => $"{Kind}({Amount})";
    }

    private static readonly Arbitrary<Op[]> Ops = Arb.From(
        Gen.Zip(Gen.Elements(Kind.Charge, Kind.Charge, Kind.Debit, Kind.Refund), Gen.OneOf(DomainGenerators.Amount(MaxCharge), DomainGenerators.Amount(MaxBalance)))
            .Select(t => new Op(t.Item1, t.Item2))
            .ArrayOf(),
        ops => Shrink.List(ops, op => Shrink.Toward0(op.Amount).Select(a => op with { Amount = a })));

    [Property(MaxTest = 300)]
    public Property Wallet_balance_stays_within_zero_and_max_and_equals_charges_minus_payments_plus_refunds() =>
        Prop.ForAll(Ops, ops =>
        {
            var wallet = Wallet.Empty(new UserId(1));
            Int128 charges = 0, payments = 0, refunds = 0;
            foreach (var op in ops)
            {
                var before = wallet;
                var beforeBalance = wallet.Balance;
                var amount = new Money(op.Amount);
                var result = op.Kind switch
                {
                    Kind.Charge => wallet.Charge(amount, new Money(MaxCharge), new Money(MaxBalance)),
                    Kind.Debit => wallet.Debit(amount),
                    _ => wallet.Refund(amount, new Money(MaxBalance)),
                };

                // The model's verdict, from exact arithmetic.
                var expected = Expect(op, beforeBalance.Amount);
                if (expected is { } code)
                {
                    Assert.True(result.IsFailure, $"{op} on {beforeBalance} should fail with {code}");
                    Assert.Equal(code, result.Error!.Code);
                }
                else
                {
                    Assert.True(result.IsSuccess, $"{op} on {beforeBalance} should succeed but gave {result.Error}");
                    wallet = result.Value;
                    _ = op.Kind switch
                    {
                        Kind.Charge => charges += op.Amount,
                        Kind.Debit => payments += op.Amount,
                        _ => refunds += op.Amount,
                    };
                }

                // Transitions never mutate: the previous state is untouched either way.
                Assert.Equal(beforeBalance, before.Balance);
                Assert.InRange(wallet.Balance.Amount, 0, MaxBalance);
                Assert.Equal(charges - payments + refunds, (Int128)wallet.Balance.Amount);
            }
        });

    private static CommerceErrorCode? Expect(Op op, long balance)
    {
        var next = op.Kind == Kind.Debit ? (Int128)balance - op.Amount : (Int128)balance + op.Amount;
        return op.Kind switch
        {
            Kind.Charge when op.Amount <= 0 => CommerceErrorCode.InvalidAmount,
            Kind.Charge when op.Amount > MaxCharge => CommerceErrorCode.ChargeLimitExceeded,
            Kind.Charge when next > MaxBalance => CommerceErrorCode.BalanceLimitExceeded,
            Kind.Debit when op.Amount < 0 => CommerceErrorCode.InvalidAmount,
            Kind.Debit when next < 0 => CommerceErrorCode.InsufficientBalance,
            Kind.Refund when op.Amount <= 0 => CommerceErrorCode.InvalidAmount,
            Kind.Refund when next > MaxBalance => CommerceErrorCode.BalanceLimitExceeded,
            _ => null,
        };
    }
}
