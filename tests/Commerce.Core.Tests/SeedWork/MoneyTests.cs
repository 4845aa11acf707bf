using System.Numerics;
using Commerce.Tests.Support;
using FsCheck.Xunit;

namespace Commerce.Tests.SeedWork;

[Properties(Replay = "20261206,1442695040888963407")]
public sealed class MoneyTests
{
    private static bool Fits(BigInteger value) => value >= long.MinValue && value <= long.MaxValue;

    [Property(Arbitrary = [typeof(Generators)])]
    public bool TryAdd_agrees_with_exact_arithmetic_and_never_wraps(Money a, Money b)
    {
        var exact = (Int128)a.Amount + b.Amount;
        var fits = exact >= long.MinValue && exact <= long.MaxValue;
        var ok = a.TryAdd(b, out var sum);
        return ok == fits && sum == (fits ? new Money((long)exact) : Money.Zero);
    }

    [Property(Arbitrary = [typeof(Generators)])]
    public bool TrySubtract_agrees_with_exact_arithmetic_and_never_wraps(Money a, Money b)
    {
        var exact = (Int128)a.Amount - b.Amount;
        var fits = exact >= long.MinValue && exact <= long.MaxValue;
        var ok = a.TrySubtract(b, out var difference);
        return ok == fits && difference == (fits ? new Money((long)exact) : Money.Zero);
    }

    [Property(Arbitrary = [typeof(Generators)])]
    public bool TryMultiply_agrees_with_exact_arithmetic_and_never_wraps(Money a, long quantity)
    {
        var exact = new BigInteger(a.Amount) * quantity;
        var ok = a.TryMultiply(quantity, out var product);
        return ok == Fits(exact) && product == (ok ? new Money((long)exact) : Money.Zero);
    }

    [Property(Arbitrary = [typeof(Generators)])]
    public bool Operators_throw_exactly_when_the_Try_methods_report_overflow(Money a, Money b)
    {
        static bool Throws(Func<Money> operation)
        {
            try
            {
                operation();
                return false;
            }
            catch (OverflowException)
            {
                return true;
            }
        }

        return Throws(() => a + b) == !a.TryAdd(b, out _)
            && Throws(() => a - b) == !a.TrySubtract(b, out _)
            && Throws(() => a * b.Amount) == !a.TryMultiply(b.Amount, out _)
            && (a.TryAdd(b, out var sum) ? Money.Add(a, b) == sum : Throws(() => Money.Add(a, b)));
    }

    [Property(Arbitrary = [typeof(Generators)])]
    public bool Comparison_follows_the_amount(Money a, Money b) =>
        a.CompareTo(b) == a.Amount.CompareTo(b.Amount)
        && (a < b) == (a.Amount < b.Amount) && (a >= b) == (a.Amount >= b.Amount)
        && (a > b) == (a.Amount > b.Amount) && (a <= b) == (a.Amount <= b.Amount)
        && a.IsPositive == (a.Amount > 0) && a.IsNegative == (a.Amount < 0);

    [Theory]
    [InlineData(long.MaxValue, 1)]
    [InlineData(long.MinValue, -1)]
    public void The_edge_cases_of_addition_overflow(long a, long b) => Assert.False(new Money(a).TryAdd(new Money(b), out _));

    [Fact]
    public void Multiplying_the_smallest_amount_by_minus_one_overflows() =>
        Assert.False(new Money(long.MinValue).TryMultiply(-1, out _));

    [Fact]
    public void The_named_alternates_of_the_operators_compute_as_them_and_throw_on_overflow()
    {
        Assert.Equal(new Money(7), Money.Add(new Money(3), new Money(4)));
        Assert.Equal(new Money(-1), Money.Subtract(new Money(3), new Money(4)));
        Assert.Equal(new Money(12), Money.Multiply(new Money(3), 4));
        Assert.Throws<OverflowException>(() => Money.Add(new Money(long.MaxValue), new Money(1)));
        Assert.Throws<OverflowException>(() => Money.Subtract(new Money(long.MinValue), new Money(1)));
        Assert.Throws<OverflowException>(() => Money.Multiply(new Money(long.MinValue), -1));
    }

    [Fact]
    public void The_constructor_accepts_any_amount_and_prints_it_invariantly()
    {
        Assert.Equal("-9223372036854775808", new Money(long.MinValue).ToString());
        Assert.Equal(Money.Zero, default);
    }
}
