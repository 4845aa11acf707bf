using System.Text;

namespace Commerce;

/// <summary>A cart as a host shows it: its lines joined with product names and prices, and the total.</summary>
/// <param name="UserId">The owner.</param>
/// <param name="Lines">The lines, in the order products were first added.</param>
/// <param name="Total">The sum of the line totals.</param>
public sealed record CartView(UserId UserId, IReadOnlyList<CartLineView> Lines, Money Total)
{
    /// <inheritdoc />
    /// <remarks>Compares the lines one by one, as a value (a record compares lists by reference), so that the same cart read twice is equal.</remarks>
    public bool Equals(CartView? other) =>
        other is not null && UserId == other.UserId && Total == other.Total && RecordText.SameItems(Lines, other.Lines);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(UserId, Total, Lines?.Count ?? 0);

    // Prints each line, not the list's type.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("UserId = ").Append(UserId.ToString()).Append(", ").AppendItems(nameof(Lines), Lines)
            .Append(", Total = ").Append(Total.ToString());
        return true;
    }
}

/// <summary>One cart line joined with its product.</summary>
/// <param name="ProductId">The product.</param>
/// <param name="Name">The product's name.</param>
/// <param name="UnitPrice">The product's current unit price.</param>
/// <param name="Quantity">The quantity.</param>
/// <param name="LineTotal">Unit price × quantity.</param>
public sealed record CartLineView(ProductId ProductId, string Name, Money UnitPrice, int Quantity, Money LineTotal);
