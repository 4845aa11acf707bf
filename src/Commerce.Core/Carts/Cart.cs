using System.Collections.Immutable;
using System.Text;

namespace Commerce;

/// <summary>One line of a cart: a product and its quantity.</summary>
/// <param name="ProductId">The product.</param>
/// <param name="Quantity">The quantity, always positive in a cart.</param>
public readonly record struct CartLine(ProductId ProductId, int Quantity);

/// <summary>
/// A user's cart: immutable lines in the order they were first added, at most one per product, with
/// pure transitions that return the next cart or a typed error.
/// </summary>
public sealed record Cart
{
    /// <summary>Creates a cart (used by stores to rehydrate state).</summary>
    /// <param name="userId">The owner.</param>
    /// <param name="lines">The lines: positive quantities, at most one per product.</param>
    /// <exception cref="ArgumentException">A quantity is not positive or a product appears twice.</exception>
    public Cart(UserId userId, ImmutableArray<CartLine> lines)
    {
        lines = lines.IsDefault ? [] : lines;
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].Quantity <= 0)
            {
                throw new ArgumentException("Cart quantities must be positive.", nameof(lines));
            }

            for (var j = 0; j < i; j++)
            {
                if (lines[j].ProductId == lines[i].ProductId)
                {
                    throw new ArgumentException("A cart holds at most one line per product.", nameof(lines));
                }
            }
        }

        UserId = userId;
        Lines = lines;
    }

    /// <summary>The owner.</summary>
    public UserId UserId { get; }

    /// <summary>The lines, in the order products were first added.</summary>
    public ImmutableArray<CartLine> Lines { get; }

    /// <summary>An empty cart for a user.</summary>
    /// <param name="userId">The owner.</param>
    /// <returns>A cart with no lines.</returns>
    public static Cart Empty(UserId userId) => new(userId, []);

    /// <summary>Adds units of a product: a new line if there is none, else a larger quantity.</summary>
    /// <param name="productId">The product.</param>
    /// <param name="quantity">The quantity to add; positive.</param>
    /// <param name="maxLineQuantity">The largest quantity one line may reach.</param>
    /// <returns>The next cart, or <see cref="CommerceErrorCode.InvalidQuantity"/>.</returns>
    public Result<Cart> AddItem(ProductId productId, int quantity, int maxLineQuantity)
    {
        if (quantity <= 0)
        {
            return Errors.NonPositiveQuantity(quantity);
        }

        var index = IndexOf(productId);
        long next = index < 0 ? quantity : (long)Lines[index].Quantity + quantity;
        if (next > maxLineQuantity)
        {
            return Errors.QuantityLimitExceeded(next, maxLineQuantity);
        }

        var line = new CartLine(productId, (int)next);
        return new Cart(UserId, index < 0 ? Lines.Add(line) : Lines.SetItem(index, line));
    }

    /// <summary>Sets the quantity of an existing line.</summary>
    /// <param name="productId">The product.</param>
    /// <param name="quantity">The new quantity; positive.</param>
    /// <param name="maxLineQuantity">The largest quantity one line may reach.</param>
    /// <returns>The next cart, or <see cref="CommerceErrorCode.InvalidQuantity"/> or <see cref="CommerceErrorCode.CartItemNotFound"/>.</returns>
    public Result<Cart> SetQuantity(ProductId productId, int quantity, int maxLineQuantity)
    {
        if (quantity <= 0)
        {
            return Errors.NonPositiveQuantity(quantity);
        }

        if (quantity > maxLineQuantity)
        {
            return Errors.QuantityLimitExceeded(quantity, maxLineQuantity);
        }

        var index = IndexOf(productId);
        if (index < 0)
        {
            return Errors.CartItemNotFound(UserId, productId);
        }

        return new Cart(UserId, Lines.SetItem(index, new CartLine(productId, quantity)));
    }

    /// <summary>Removes a product's line.</summary>
    /// <param name="productId">The product.</param>
    /// <returns>The next cart, or <see cref="CommerceErrorCode.CartItemNotFound"/> if there is no such line.</returns>
    public Result<Cart> RemoveItem(ProductId productId)
    {
        var index = IndexOf(productId);
        return index < 0 ? Errors.CartItemNotFound(UserId, productId) : new Cart(UserId, Lines.RemoveAt(index));
    }

    /// <summary>Removes every line.</summary>
    /// <returns>An empty cart for the same user.</returns>
    public Cart Clear() => Empty(UserId);

    /// <summary>The quantity of a product in the cart, zero if it has no line.</summary>
    /// <param name="productId">The product.</param>
    /// <returns>The quantity.</returns>
    public int QuantityOf(ProductId productId)
    {
        var index = IndexOf(productId);
        return index < 0 ? 0 : Lines[index].Quantity;
    }

    /// <inheritdoc />
    public bool Equals(Cart? other) =>
        other is not null && UserId == other.UserId && Lines.SequenceEqual(other.Lines);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(UserId, Lines.Length);

    // Prints each line, not the array's type.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("UserId = ").Append(UserId.ToString()).Append(", Lines = [").AppendJoin(", ", Lines).Append(']');
        return true;
    }

    /// <summary>Whether the cart has a line for <paramref name="productId"/>.</summary>
    internal bool Holds(ProductId productId) => IndexOf(productId) >= 0;

    private int IndexOf(ProductId productId)
    {
        for (var i = 0; i < Lines.Length; i++)
        {
            if (Lines[i].ProductId == productId)
            {
                return i;
            }
        }

        return -1;
    }
}
