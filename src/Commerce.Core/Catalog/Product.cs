namespace Commerce;

/// <summary>A catalog entry: an immutable product with a name and a unit price.</summary>
public sealed record Product
{
    /// <summary>Creates a product (used by stores to rehydrate state; use <see cref="Create"/> to validate input).</summary>
    /// <param name="id">The product id.</param>
    /// <param name="name">The name.</param>
    /// <param name="price">The unit price; must not be negative.</param>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="price"/> is negative.</exception>
    public Product(ProductId id, string name, Money price)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentOutOfRangeException.ThrowIfNegative(price.Amount, nameof(price));
        Id = id;
        Name = name;
        Price = price;
    }

    /// <summary>The product id.</summary>
    public ProductId Id { get; }

    /// <summary>The name.</summary>
    public string Name { get; }

    /// <summary>The unit price, never negative.</summary>
    public Money Price { get; }

    /// <summary>Validates input and creates a product.</summary>
    /// <param name="id">The product id.</param>
    /// <param name="name">
    /// The name: 1 to <paramref name="maxNameLength"/> characters, not only white space, without control characters
    /// (U+0000 to U+001F, U+007F to U+009F, tabs and line breaks included) and without unpaired surrogates.
    /// </param>
    /// <param name="price">The unit price; zero or more.</param>
    /// <param name="maxNameLength">The longest name allowed.</param>
    /// <returns>The product, or <see cref="CommerceErrorCode.InvalidProductName"/> or <see cref="CommerceErrorCode.InvalidAmount"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is <see langword="null"/>.</exception>
    public static Result<Product> Create(ProductId id, string name, Money price, int maxNameLength)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (string.IsNullOrWhiteSpace(name) || name.Length > maxNameLength || !IsPrintable(name))
        {
            return Errors.InvalidProductName(name, maxNameLength);
        }

        if (price.IsNegative)
        {
            return Errors.NegativePrice(price);
        }

        return new Product(id, name, price);
    }

    // A name is shown in lists, receipts and logs and stored as text: a control character (a NUL that a
    // database's text type refuses, an escape sequence for a terminal, a line break that forges a log line)
    // or half of a surrogate pair (not encodable as UTF-8) has no place in it.
    private static bool IsPrintable(string name)
    {
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsControl(c))
            {
                return false;
            }

            if (char.IsHighSurrogate(c) && i + 1 < name.Length && char.IsLowSurrogate(name[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return false;
            }
        }

        return true;
    }
}
