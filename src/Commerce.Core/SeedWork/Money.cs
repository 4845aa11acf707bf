using System.ComponentModel;
using System.Globalization;
using System.Text.Json.Serialization;

namespace Commerce;

/// <summary>
/// An amount of money in the currency's smallest unit (for example cents), over a 64-bit integer.
/// </summary>
/// <remarks>
/// <para>
/// A <see cref="Money"/> may hold any amount, including negative differences: the constructor never
/// throws. The services refuse amounts that make no sense for an operation with a
/// <see cref="Result{T}"/> carrying <see cref="CommerceErrorCode.InvalidAmount"/>.
/// </para>
/// <para>
/// Arithmetic is checked: the operators throw <see cref="OverflowException"/> rather than wrap
/// around, and the <c>TryAdd</c>/<c>TrySubtract</c>/<c>TryMultiply</c> methods report an overflow
/// as <see langword="false"/>, which the services turn into
/// <see cref="CommerceErrorCode.AmountOverflow"/>.
/// </para>
/// <para>
/// Configuration binding reads a <see cref="Money"/> from its amount's text (<c>"MaxChargeAmount": 5000</c>), through
/// its <see cref="System.ComponentModel.TypeConverter"/>; JSON reads and writes it as the bare number.
/// </para>
/// </remarks>
/// <param name="Amount">The amount in the currency's smallest unit.</param>
[JsonConverter(typeof(CommerceValueJsonConverter))]
[TypeConverter(typeof(MoneyTypeConverter))]
public readonly record struct Money(long Amount) : IComparable<Money>
{
    /// <summary>Zero.</summary>
    public static Money Zero => default;

    /// <summary>Whether the amount is greater than zero.</summary>
    public bool IsPositive => Amount > 0;

    /// <summary>Whether the amount is less than zero.</summary>
    public bool IsNegative => Amount < 0;

    /// <summary>Adds two amounts, reporting an overflow instead of wrapping around.</summary>
    /// <param name="other">The amount to add.</param>
    /// <param name="result">The sum, or zero on overflow.</param>
    /// <returns><see langword="true"/> unless the sum overflows.</returns>
    public bool TryAdd(Money other, out Money result)
    {
        var sum = unchecked(Amount + other.Amount);
        // Overflow iff both operands have the same sign and the sum's sign differs.
        if (((Amount ^ sum) & (other.Amount ^ sum)) < 0)
        {
            result = default;
            return false;
        }

        result = new Money(sum);
        return true;
    }

    /// <summary>Subtracts an amount, reporting an overflow instead of wrapping around.</summary>
    /// <param name="other">The amount to subtract.</param>
    /// <param name="result">The difference, or zero on overflow.</param>
    /// <returns><see langword="true"/> unless the difference overflows.</returns>
    public bool TrySubtract(Money other, out Money result)
    {
        var difference = unchecked(Amount - other.Amount);
        if (((Amount ^ other.Amount) & (Amount ^ difference)) < 0)
        {
            result = default;
            return false;
        }

        result = new Money(difference);
        return true;
    }

    /// <summary>Multiplies the amount by a quantity, reporting an overflow instead of wrapping around.</summary>
    /// <param name="quantity">The multiplier.</param>
    /// <param name="result">The product, or zero on overflow.</param>
    /// <returns><see langword="true"/> unless the product overflows.</returns>
    public bool TryMultiply(long quantity, out Money result)
    {
        var product = Math.BigMul(Amount, quantity, out var low);
        // The 128-bit product fits in 64 bits iff the high half is the sign extension of the low half.
        if (product != (low >> 63))
        {
            result = default;
            return false;
        }

        result = new Money(low);
        return true;
    }

    /// <summary>Adds two amounts.</summary>
    /// <exception cref="OverflowException">The sum does not fit in 64 bits.</exception>
    public static Money operator +(Money left, Money right) => new(checked(left.Amount + right.Amount));

    /// <summary>Subtracts two amounts.</summary>
    /// <exception cref="OverflowException">The difference does not fit in 64 bits.</exception>
    public static Money operator -(Money left, Money right) => new(checked(left.Amount - right.Amount));

    /// <summary>Multiplies an amount by a quantity.</summary>
    /// <exception cref="OverflowException">The product does not fit in 64 bits.</exception>
    public static Money operator *(Money left, long quantity) => new(checked(left.Amount * quantity));

    /// <summary>Compares two amounts.</summary>
    public static bool operator <(Money left, Money right) => left.Amount < right.Amount;

    /// <summary>Compares two amounts.</summary>
    public static bool operator >(Money left, Money right) => left.Amount > right.Amount;

    /// <summary>Compares two amounts.</summary>
    public static bool operator <=(Money left, Money right) => left.Amount <= right.Amount;

    /// <summary>Compares two amounts.</summary>
    public static bool operator >=(Money left, Money right) => left.Amount >= right.Amount;

    /// <summary>Adds two amounts (the named alternative to the <c>+</c> operator).</summary>
    /// <exception cref="OverflowException">The sum does not fit in 64 bits.</exception>
    public static Money Add(Money left, Money right) => left + right;

    /// <summary>Subtracts two amounts (the named alternative to the <c>-</c> operator).</summary>
    /// <exception cref="OverflowException">The difference does not fit in 64 bits.</exception>
    public static Money Subtract(Money left, Money right) => left - right;

    /// <summary>Multiplies an amount by a quantity (the named alternative to the <c>*</c> operator).</summary>
    /// <exception cref="OverflowException">The product does not fit in 64 bits.</exception>
    public static Money Multiply(Money left, long quantity) => left * quantity;

    /// <inheritdoc />
    public int CompareTo(Money other) => Amount.CompareTo(other.Amount);

    /// <summary>The amount in the smallest unit, as an invariant-culture integer.</summary>
    public override string ToString() => Amount.ToString(CultureInfo.InvariantCulture);
}
