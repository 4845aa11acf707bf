using System.Text;

namespace Commerce.Storage;

/// <summary>The best sellers a store found over a range of ranking buckets.</summary>
/// <param name="Sales">Units per product, most units first, ties by lower product id; only positive quantities.</param>
/// <param name="Consistent">
/// <see langword="false"/> if the store could not read the buckets at one instant (a commit was in flight):
/// the unit of work then fails its commit, and the query runs again.
/// </param>
public readonly record struct SalesTop(IReadOnlyList<ProductSales> Sales, bool Consistent = true)
{
    /// <inheritdoc />
    /// <remarks>Compares the sales one by one, as a value (a record compares lists by reference), so that the same ranking read twice is equal.</remarks>
    public bool Equals(SalesTop other) =>
        Consistent == other.Consistent
        && (ReferenceEquals(Sales, other.Sales) || (Sales is not null && other.Sales is not null && Sales.SequenceEqual(other.Sales)));

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Consistent, Sales?.Count ?? 0);

    // Prints each product's sales, not the list's type.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Sales = ");
        if (Sales is null)
        {
            builder.Append("null");
        }
        else
        {
            builder.Append('[').AppendJoin(", ", Sales).Append(']');
        }

        builder.Append(", Consistent = ").Append(Consistent);
        return true;
    }
}
