using System.Text.Json.Serialization;

namespace Commerce;

/// <summary>
/// A key a client sends with a state-changing call it may retry: the first call with a key runs, and a
/// repeat with the same key and the same request gets the first call's outcome without running again.
/// Keys are scoped per user and per kind of operation (a charge and an order may use the same key).
/// </summary>
/// <remarks>
/// A valid key has 1 to <see cref="MaxLength"/> characters, each printable ASCII (U+0020 to U+007E).
/// The constructor accepts anything (it never throws); the services refuse an invalid key with
/// <see cref="CommerceErrorCode.InvalidIdempotencyKey"/> and change nothing.
/// </remarks>
/// <param name="Value">The key as the client sent it.</param>
[JsonConverter(typeof(CommerceValueJsonConverter))]
public readonly record struct IdempotencyKey(string Value)
{
    /// <summary>The longest valid key, in characters.</summary>
    public const int MaxLength = 128;

    /// <summary>Whether the key is valid: 1 to <see cref="MaxLength"/> printable ASCII characters.</summary>
    public bool IsValid
    {
        get
        {
            if (string.IsNullOrEmpty(Value) || Value.Length > MaxLength)
            {
                return false;
            }

            foreach (var c in Value)
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
    public override string ToString() => Value ?? string.Empty;
}
