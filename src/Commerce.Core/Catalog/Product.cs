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
    /// <param name="name">The name: 1 to <paramref name="maxNameLength"/> characters, not only white space.</param>
    /// <param name="price">The unit price; zero or more.</param>
    /// <param name="maxNameLength">The longest name allowed.</param>
    /// <returns>The product, or <see cref="CommerceErrorCode.InvalidProductName"/> or <see cref="CommerceErrorCode.InvalidAmount"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is <see langword="null"/>.</exception>
    public static Result<Product> Create(ProductId id, string name, Money price, int maxNameLength)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (string.IsNullOrWhiteSpace(name) || name.Length > maxNameLength)
        {
            return Errors.InvalidProductName(maxNameLength);
        }

        if (price.IsNegative)
        {
            return Errors.NegativePrice(price);
        }

        return new Product(id, name, price);
    }
}
