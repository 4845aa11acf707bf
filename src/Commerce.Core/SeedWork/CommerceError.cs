namespace Commerce;

/// <summary>
/// An expected business outcome that stopped an operation: a stable <see cref="Code"/>, a human
/// readable <see cref="Message"/>, and the products concerned where there are any.
/// </summary>
/// <remarks>Instances are immutable and safe to share between threads.</remarks>
public sealed class CommerceError
{
    /// <summary>Creates an error.</summary>
    /// <param name="code">The stable code.</param>
    /// <param name="message">A human readable description.</param>
    /// <param name="productIds">The products concerned, if any (for example every product short of stock).</param>
    /// <exception cref="ArgumentNullException"><paramref name="message"/> is <see langword="null"/>.</exception>
    public CommerceError(CommerceErrorCode code, string message, IEnumerable<ProductId>? productIds = null)
    {
        ArgumentNullException.ThrowIfNull(message);
        Code = code;
        Message = message;
        ProductIds = productIds is null ? [] : Array.AsReadOnly(productIds.ToArray());
    }

    /// <summary>The stable code of the outcome.</summary>
    public CommerceErrorCode Code { get; }

    /// <summary>A human readable description, for logs and people; match on <see cref="Code"/> in code.</summary>
    public string Message { get; }

    /// <summary>
    /// The products concerned, in ascending id order: every short product for
    /// <see cref="CommerceErrorCode.InsufficientStock"/>, every unknown one for
    /// <see cref="CommerceErrorCode.ProductNotFound"/>; empty otherwise.
    /// </summary>
    public IReadOnlyList<ProductId> ProductIds { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Code}: {Message}";
}
