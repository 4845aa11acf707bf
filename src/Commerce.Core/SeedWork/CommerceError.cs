using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Serialization;

namespace Commerce;

/// <summary>
/// An expected business outcome that stopped an operation: a stable <see cref="Code"/>, a human
/// readable <see cref="Message"/>, and the products concerned where there are any.
/// </summary>
/// <remarks>
/// Instances are immutable and safe to share between threads. Two errors are equal when their code, message
/// and products (in order) are: a stored refusal replayed from any store equals the one first returned.
/// </remarks>
public sealed class CommerceError : IEquatable<CommerceError>
{
    /// <summary>Creates an error.</summary>
    /// <param name="code">The stable code.</param>
    /// <param name="message">A human readable description.</param>
    /// <param name="productIds">The products concerned, if any (for example every product short of stock).</param>
    /// <exception cref="ArgumentNullException"><paramref name="message"/> is <see langword="null"/>.</exception>
    [SuppressMessage("ApiDesign", "RS0027:API with optional parameter(s) should have the most parameters amongst its public overloads", Justification = "The overload over a list has as many parameters, none optional: a call that leaves out the products binds here as before.")]
    public CommerceError(CommerceErrorCode code, string message, IEnumerable<ProductId>? productIds = null)
    {
        ArgumentNullException.ThrowIfNull(message);
        Code = code;
        Message = message;
        ProductIds = productIds is null ? [] : Array.AsReadOnly(productIds.ToArray());
    }

    /// <summary>Creates an error from a list of products (the constructor System.Text.Json reads an error through).</summary>
    /// <param name="code">The stable code.</param>
    /// <param name="message">A human readable description.</param>
    /// <param name="productIds">The products concerned, if any; the error keeps its own copy.</param>
    /// <exception cref="ArgumentNullException"><paramref name="message"/> is <see langword="null"/>.</exception>
    [JsonConstructor]
    public CommerceError(CommerceErrorCode code, string message, IReadOnlyList<ProductId>? productIds)
        : this(code, message, (IEnumerable<ProductId>?)productIds)
    {
    }

    /// <summary>The stable code of the outcome.</summary>
    public CommerceErrorCode Code { get; }

    /// <summary>A human readable description, for logs and people; match on <see cref="Code"/> in code.</summary>
    public string Message { get; }

    /// <summary>
    /// The products concerned, in the order the constructor was given them (the library's own errors list them in
    /// ascending id order): every short product for <see cref="CommerceErrorCode.InsufficientStock"/>, every unknown
    /// one for <see cref="CommerceErrorCode.ProductNotFound"/>, the product whose id is taken for
    /// <see cref="CommerceErrorCode.ProductAlreadyExists"/>, the product the cart has no line for for
    /// <see cref="CommerceErrorCode.CartItemNotFound"/>, and for <see cref="CommerceErrorCode.InvalidQuantity"/> the
    /// product whose stock a restock (or a cancel's) would take past <see cref="int.MaxValue"/> (none for a quantity
    /// refused by itself); empty otherwise.
    /// </summary>
    public IReadOnlyList<ProductId> ProductIds { get; }

    /// <summary>Whether two errors are equal (see <see cref="Equals(CommerceError)"/>).</summary>
    /// <param name="left">An error, or <see langword="null"/>.</param>
    /// <param name="right">An error, or <see langword="null"/>.</param>
    /// <returns>Whether both are <see langword="null"/> or they are equal.</returns>
    public static bool operator ==(CommerceError? left, CommerceError? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Whether two errors differ (see <see cref="Equals(CommerceError)"/>).</summary>
    /// <param name="left">An error, or <see langword="null"/>.</param>
    /// <param name="right">An error, or <see langword="null"/>.</param>
    /// <returns>Whether they are not equal.</returns>
    public static bool operator !=(CommerceError? left, CommerceError? right) => !(left == right);

    /// <summary>Whether <paramref name="other"/> has the same code, message and products, in the same order.</summary>
    /// <param name="other">An error, or <see langword="null"/>.</param>
    /// <returns>Whether the two are equal.</returns>
    public bool Equals(CommerceError? other) =>
        other is not null
        && (ReferenceEquals(this, other) || (Code == other.Code && Message == other.Message && ProductIds.SequenceEqual(other.ProductIds)));

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as CommerceError);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = default(HashCode);
        hash.Add(Code);
        hash.Add(Message, StringComparer.Ordinal);
        foreach (var id in ProductIds)
        {
            hash.Add(id);
        }

        return hash.ToHashCode();
    }

    /// <inheritdoc />
    public override string ToString() => $"{Code}: {Message}";
}
