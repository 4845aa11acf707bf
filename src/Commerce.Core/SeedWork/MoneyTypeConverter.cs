using System.ComponentModel;
using System.Globalization;

namespace Commerce;

/// <summary>
/// Converts a <see cref="Money"/> from and to the text of its amount (an integer in the currency's smallest unit,
/// invariant culture), so that configuration binding (<c>section.Bind(options)</c>) reads an amount written as
/// <c>"MaxChargeAmount": 5000</c>, as it reads any number.
/// </summary>
internal sealed class MoneyTypeConverter : TypeConverter
{
    /// <inheritdoc />
    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) =>
        sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

    /// <inheritdoc />
    public override bool CanConvertTo(ITypeDescriptorContext? context, Type? destinationType) =>
        destinationType == typeof(string) || base.CanConvertTo(context, destinationType);

    /// <inheritdoc />
    /// <exception cref="FormatException">The text is not a 64-bit integer (an optional sign and digits).</exception>
    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
        value is string text
            ? long.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out var amount)
                ? new Money(amount)
                : throw new FormatException($"'{text}' is not an amount of money: a whole number of the currency's smallest unit, from {long.MinValue} to {long.MaxValue}, is.")
            : base.ConvertFrom(context, culture, value);

    /// <inheritdoc />
    public override object? ConvertTo(ITypeDescriptorContext? context, CultureInfo? culture, object? value, Type destinationType) =>
        destinationType == typeof(string) && value is Money money
            ? money.Amount.ToString(CultureInfo.InvariantCulture)
            : base.ConvertTo(context, culture, value, destinationType);
}
