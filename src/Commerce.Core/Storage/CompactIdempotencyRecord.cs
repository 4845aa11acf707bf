namespace Commerce.Storage;

/// <summary>
/// The <see cref="IdempotencyRecord"/> of a keyed request that succeeded, without what the key it is
/// stored at says already (the user): a charge's balance or an order's id, the key, the request's digest,
/// the time. 80 bytes in all where the record and its key's text take about 160: a key of up to 18
/// printable ASCII characters, or a UUID in its canonical form (as most clients make keys), is held in two
/// words of the record instead of a string of its own. The library stages it instead of the record for a
/// store that keeps such records (<see cref="IStoresCompactIdempotencyRecords"/>).
/// </summary>
/// <remarks>
/// A compact record stands for exactly one <see cref="IdempotencyRecord"/> (<see cref="ToRecord"/>): no
/// refusal, a time in UTC, and either a charge's balance or an order's id. <see cref="Of"/> compacts any
/// record that is so; a key of another shape is kept as its text. Immutable and thread-safe.
/// </remarks>
public sealed class CompactIdempotencyRecord
{
    // A charge's balance in _outcomeHigh; or an order id's two words, as StoreKey.ForOrder lays them out.
    private readonly long _outcomeHigh;
    private readonly long _outcomeLow;
    private readonly long _createdAtTicks;

    // The key: its text, or null and its packed form (see PackedKey) in _key0, _key1 and _keyForm.
    private readonly string? _keyText;
    private readonly long _key0;
    private readonly long _key1;
    private readonly byte _keyForm;

    private CompactIdempotencyRecord(IdempotentOperation operation, string key, long requestHash, long createdAtTicks, long outcomeHigh, long outcomeLow)
    {
        Operation = operation;
        if (!PackedKey.TryPack(key, out _keyForm, out _key0, out _key1))
        {
            _keyText = key;
        }

        RequestHash = requestHash;
        _createdAtTicks = createdAtTicks;
        _outcomeHigh = outcomeHigh;
        _outcomeLow = outcomeLow;
    }

    /// <summary>The kind of operation.</summary>
    public IdempotentOperation Operation { get; }

    /// <summary>The key, as the client sent it (made again at each read when the record holds it packed).</summary>
    public string Key => _keyText ?? PackedKey.Unpack(_keyForm, _key0, _key1);

    /// <summary>Whether the record holds its key packed in two words rather than as a string (for tests).</summary>
    internal bool KeyPacked => _keyText is null;

    /// <summary>A digest of the request (see <see cref="IdempotencyRecord.RequestHash"/>).</summary>
    public long RequestHash { get; }

    /// <summary>When the request committed, in UTC.</summary>
    public DateTimeOffset CreatedAt => new(_createdAtTicks, TimeSpan.Zero);

    /// <summary>
    /// The compact form of <paramref name="record"/>, or <see langword="null"/> if it has none: a refusal, a
    /// time with an offset, no key (<see langword="null"/>), a charge's record with an order id, or an order's
    /// without one or with a balance.
    /// </summary>
    /// <param name="record">The record.</param>
    /// <returns>The compact record, which <see cref="ToRecord"/> turns back into one equal to <paramref name="record"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="record"/> is <see langword="null"/>.</exception>
    public static CompactIdempotencyRecord? Of(IdempotencyRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return record.Error is null && record.CreatedAt.Offset == TimeSpan.Zero && record.Key is not null
            ? Succeeded(record.Operation, record.Key, record.RequestHash, record.CreatedAt, record.Balance, record.OrderId)
            : null;
    }

    /// <summary>The record of a success, or <see langword="null"/> if its outcome does not fit (see <see cref="Of"/>).</summary>
    internal static CompactIdempotencyRecord? Succeeded(
        IdempotentOperation operation, string key, long requestHash, DateTimeOffset createdAt, Money balance, OrderId? orderId)
    {
        if (createdAt.Offset != TimeSpan.Zero)
        {
            return null;
        }

        if (operation == IdempotentOperation.Charge)
        {
            return orderId is null ? new(operation, key, requestHash, createdAt.UtcTicks, balance.Amount, 0) : null;
        }

        if (orderId is not { } id || balance != Money.Zero)
        {
            return null;
        }

        var words = StoreKey.ForOrder(id);
        return new(operation, key, requestHash, createdAt.UtcTicks, words.High, words.Low);
    }

    /// <summary>The record this stands for, as stored at a key of <paramref name="userId"/>.</summary>
    /// <param name="userId">The user of the key the record is stored at.</param>
    /// <returns>A new record.</returns>
    public IdempotencyRecord ToRecord(UserId userId) => Operation == IdempotentOperation.Charge
        ? new(userId, Operation, Key, RequestHash, CreatedAt, null, new Money(_outcomeHigh), null)
        : new(userId, Operation, Key, RequestHash, CreatedAt, null, Money.Zero, new StoreKey(StoreTable.Orders, _outcomeHigh, _outcomeLow).OrderId);
}

/// <summary>
/// An idempotency key held exactly in two 64-bit words, for the two shapes most keys have: up to 18
/// printable ASCII characters (7 bits each: characters 0–8 in the first word, 9–17 in the second; the form
/// is the length), or a UUID in its canonical 36-character form with its hex digits all lower or all upper
/// case (its 16 bytes, as <see cref="Guid"/> writes them; the form says which case).
/// </summary>
internal static class PackedKey
{
    public const int MaxShortLength = 18;
    private const int CharsPerWord = 9;
    private const byte UuidLower = 0x40;
    private const byte UuidUpper = 0x41;
    private const int UuidLength = 36;

    /// <summary>Packs <paramref name="key"/>, or returns false if it has neither shape (form 0).</summary>
    public static bool TryPack(string key, out byte form, out long word0, out long word1)
    {
        word0 = word1 = 0;
        form = 0;
        if (key.Length is >= 1 and <= MaxShortLength)
        {
            for (var i = 0; i < key.Length; i++)
            {
                var c = key[i];
                if (c is < ' ' or > '~')
                {
                    word0 = word1 = 0;
                    return false;
                }

                var value = (long)(c - ' ') << (7 * (i % CharsPerWord));
                if (i < CharsPerWord)
                {
                    word0 |= value;
                }
                else
                {
                    word1 |= value;
                }
            }

            form = (byte)key.Length;
            return true;
        }

        return key.Length == UuidLength && TryPackUuid(key, out form, out word0, out word1);
    }

    /// <summary>The key that <see cref="TryPack"/> packed.</summary>
    public static string Unpack(byte form, long word0, long word1)
    {
        if (form is UuidLower or UuidUpper)
        {
            Span<byte> bytes = stackalloc byte[16];
            BitConverter.TryWriteBytes(bytes, word0);
            BitConverter.TryWriteBytes(bytes[8..], word1);
            return string.Create(UuidLength, (Uuid: new Guid(bytes), Upper: form == UuidUpper), static (chars, packed) =>
            {
                packed.Uuid.TryFormat(chars, out _, "D"); // lower case
                if (packed.Upper)
                {
                    System.Text.Ascii.ToUpperInPlace(chars, out _);
                }
            });
        }

        return string.Create(form, (word0, word1), static (chars, packed) =>
        {
            for (var i = 0; i < chars.Length; i++)
            {
                var word = i < CharsPerWord ? packed.word0 : packed.word1;
                chars[i] = (char)(' ' + (int)((word >> (7 * (i % CharsPerWord))) & 0x7F));
            }
        });
    }

    /// <summary>
    /// Packs a UUID in its canonical form whose hex digits are all of one case: the text must be exactly what
    /// <see cref="Guid"/> formats back (its parser also takes forms such as a <c>0x</c> before a group, which
    /// would not come back), and a mix of cases would not come back either.
    /// </summary>
    private static bool TryPackUuid(string key, out byte form, out long word0, out long word1)
    {
        word0 = word1 = 0;
        form = 0;
        Span<char> canonical = stackalloc char[UuidLength];
        var text = key.AsSpan();
        var upper = text.ContainsAnyInRange('A', 'F');
        if (!Guid.TryParseExact(text, "D", out var uuid)
            || !uuid.TryFormat(canonical, out _, "D")
            || !text.Equals(canonical, StringComparison.OrdinalIgnoreCase)
            || (upper && text.ContainsAnyInRange('a', 'f')))
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[16];
        uuid.TryWriteBytes(bytes);
        word0 = BitConverter.ToInt64(bytes);
        word1 = BitConverter.ToInt64(bytes[8..]);
        form = upper ? UuidUpper : UuidLower;
        return true;
    }
}
