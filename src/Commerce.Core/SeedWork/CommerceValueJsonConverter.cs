using System.Buffers.Text;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Commerce;

/// <summary>
/// Writes the library's single-value types to JSON as their value alone, and reads them back: <see cref="Money"/>,
/// <see cref="UserId"/> and <see cref="ProductId"/> as numbers (<c>450</c>, <c>7</c>), <see cref="OrderId"/> as its
/// GUID's string (<c>"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"</c>), <see cref="IdempotencyKey"/> as its string. Ids are
/// dictionary keys too (as property names). The types name it in their <see cref="JsonConverterAttribute"/>, so a host
/// needs no setting for it, with reflection or a source-generated context.
/// </summary>
/// <remarks>
/// Reading accepts what the type's constructor accepts (any 64-bit amount or id, any GUID, any key text) and throws
/// <see cref="JsonException"/> for a token of another kind or a number that is not a 64-bit integer. Stateless and
/// thread-safe.
/// </remarks>
public sealed class CommerceValueJsonConverter : JsonConverterFactory
{
    private static readonly Int64Converter<Money> MoneyConverter = new("An amount of money", amount => new(amount), money => money.Amount);
    private static readonly Int64Converter<UserId> UserIdConverter = new("A user id", id => new(id), id => id.Value);
    private static readonly Int64Converter<ProductId> ProductIdConverter = new("A product id", id => new(id), id => id.Value);

    /// <inheritdoc />
    public override bool CanConvert(Type typeToConvert) =>
        typeToConvert == typeof(Money) || typeToConvert == typeof(UserId) || typeToConvert == typeof(ProductId)
        || typeToConvert == typeof(OrderId) || typeToConvert == typeof(IdempotencyKey);

    /// <inheritdoc />
    /// <exception cref="ArgumentException"><paramref name="typeToConvert"/> is not one of the types above.</exception>
    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        typeToConvert == typeof(Money) ? MoneyConverter
        : typeToConvert == typeof(UserId) ? UserIdConverter
        : typeToConvert == typeof(ProductId) ? ProductIdConverter
        : typeToConvert == typeof(OrderId) ? OrderIdConverter.Instance
        : typeToConvert == typeof(IdempotencyKey) ? IdempotencyKeyConverter.Instance
        : throw new ArgumentException($"{typeToConvert} is not converted by {nameof(CommerceValueJsonConverter)}.", nameof(typeToConvert));

    private static long ReadInt64(ref Utf8JsonReader reader, string what) =>
        reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value)
            ? value
            : throw new JsonException($"{what} is a JSON number that is a 64-bit integer, not {Describe(ref reader)}.");

    private static long ReadInt64Name(ref Utf8JsonReader reader, string what)
    {
        var text = reader.GetString();
        return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new JsonException($"{what} as a property name is a 64-bit integer, not \"{text}\".");
    }

    private static void WriteInt64Name(Utf8JsonWriter writer, long value)
    {
        Span<byte> utf8 = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, utf8, out var written);
        writer.WritePropertyName(utf8[..written]);
    }

    private static string Describe(ref Utf8JsonReader reader) =>
        reader.TokenType == JsonTokenType.Number ? "a number out of that range or with a fraction" : reader.TokenType.ToString();

    /// <summary>A type of one 64-bit integer, as a JSON number (and as a property name, its text).</summary>
    private sealed class Int64Converter<T>(string what, Func<long, T> create, Func<T, long> valueOf) : JsonConverter<T>
        where T : struct
    {
        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            create(ReadInt64(ref reader, what));

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
            writer.WriteNumberValue(valueOf(value));

        public override T ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            create(ReadInt64Name(ref reader, what));

        public override void WriteAsPropertyName(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
            WriteInt64Name(writer, valueOf(value));
    }

    private sealed class OrderIdConverter : JsonConverter<OrderId>
    {
        public static readonly OrderIdConverter Instance = new();

        public override OrderId Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.String && reader.TryGetGuid(out var value)
                ? new(value)
                : throw new JsonException($"An order id is a JSON string holding a GUID, not {reader.TokenType}{(reader.TokenType == JsonTokenType.String ? " of another form" : string.Empty)}.");

        public override void Write(Utf8JsonWriter writer, OrderId value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.Value);

        public override OrderId ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            Guid.TryParseExact(reader.GetString(), "D", out var value) ? new(value) : throw new JsonException("An order id as a property name is a GUID (32 hexadecimal digits in groups separated by hyphens).");

        public override void WriteAsPropertyName(Utf8JsonWriter writer, OrderId value, JsonSerializerOptions options) =>
            writer.WritePropertyName(value.Value.ToString("D", CultureInfo.InvariantCulture));
    }

    private sealed class IdempotencyKeyConverter : JsonConverter<IdempotencyKey>
    {
        public static readonly IdempotencyKeyConverter Instance = new();

        // JSON null reads as the default key (whose text is null, read as empty), as it is written.
        public override bool HandleNull => true;

        public override IdempotencyKey Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType switch
            {
                JsonTokenType.String => new(reader.GetString()!),
                JsonTokenType.Null => default,
                _ => throw new JsonException($"An idempotency key is a JSON string, not {reader.TokenType}."),
            };

        public override void Write(Utf8JsonWriter writer, IdempotencyKey value, JsonSerializerOptions options)
        {
            if (value.IsDefault)
            {
                writer.WriteNullValue();
            }
            else
            {
                writer.WriteStringValue(value.Value);
            }
        }
    }
}
