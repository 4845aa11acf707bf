using System.Text.Json.Serialization;

namespace Commerce;

/// <summary>
/// A key a client sends with a state-changing call it may retry: the first call with a key runs, and a
/// repeat with the same key and the same request gets the first call's outcome without running again.
/// Keys are scoped per user and per kind of operation (a charge and an order may use the same key).
/// </summary>
/// <remarks>
/// <para>
/// A valid key has 1 to <see cref="MaxLength"/> characters, each printable ASCII (U+0020 to U+007E).
/// The constructor accepts anything (it never throws); the services refuse an invalid key with
/// <see cref="CommerceErrorCode.InvalidIdempotencyKey"/> and change nothing.
/// </para>
/// <para>
/// The default key (<c>default(IdempotencyKey)</c>, as a request model gets when its key is missing, or a key
/// made from <see langword="null"/>) is not "no key": its <see cref="Value"/> is <see cref="string.Empty"/>, so it
/// is invalid, and a service given it refuses it as an empty key (to run a request without a key, call the
/// overload that takes none). It equals another default key only, not a key made from <see cref="string.Empty"/>
/// (equality and the hash code compare the text as given), and it is written to JSON as <c>null</c>, which reads
/// back as the default key, where an empty key is written as <c>""</c>.
/// </para>
/// <para>
/// Write the default key as <c>default(IdempotencyKey)</c>: a bare <c>default</c> in the key's place, as in
/// <c>ChargeAsync(user, amount, default)</c>, binds to the overload without a key (its next parameter, a
/// <see cref="CancellationToken"/>), so that call runs without a key rather than being refused.
/// </para>
/// </remarks>
/// <param name="Value">The key as the client sent it.</param>
[JsonConverter(typeof(CommerceValueJsonConverter))]
public readonly record struct IdempotencyKey(string Value)
{
    // The text as given: null in a default key (or one made from null), which Value reads as empty.
    private readonly string? _value = Value;

    /// <summary>The longest valid key, in characters.</summary>
    public const int MaxLength = 128;

    /// <summary>The key as the client sent it; <see cref="string.Empty"/> for the default key (never <see langword="null"/>).</summary>
    public string Value
    {
        get => _value ?? string.Empty;
        init => _value = value;
    }

    /// <summary>Whether this is the default key: its text is <see langword="null"/> (written to JSON as <c>null</c>).</summary>
    internal bool IsDefault => _value is null;

    /// <summary>Whether the key is valid: 1 to <see cref="MaxLength"/> printable ASCII characters.</summary>
    public bool IsValid
    {
        get
        {
            var value = Value;
            if (value.Length is 0 or > MaxLength)
            {
                return false;
            }

            foreach (var c in value)
            {
                if (c is < ' ' or > '~')
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <inheritdoc />
    public override string ToString() => Value;
}
