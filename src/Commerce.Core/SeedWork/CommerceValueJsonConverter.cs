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
    /// <inheritdoc />
    public override bool CanConvert(Type typeToConvert) =>
        typeToConvert == typeof(Money) || typeToConvert == typeof(UserId) || typeToConvert == typeof(ProductId)
        || typeToConvert == typeof(OrderId) || typeToConvert == typeof(IdempotencyKey);

    /// <inheritdoc />
    /// <exception cref="ArgumentException"><paramref name="typeToConvert"/> is not one of the types above.</exception>
    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        typeToConvert == typeof(Money) ? MoneyConverter.Instance
        : typeToConvert == typeof(UserId) ? UserIdConverter.Instance
        : typeToConvert == typeof(ProductId) ? ProductIdConverter.Instance
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

    private sealed class MoneyConverter : JsonConverter<Money>
    {
        public static readonly MoneyConverter Instance = new();

        public override Money Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            new(ReadInt64(ref reader, "An amount of money"));

        public override void Write(Utf8JsonWriter writer, Money value, JsonSerializerOptions options) =>
            writer.WriteNumberValue(value.Amount);
    }

    private sealed class UserIdConverter : JsonConverter<UserId>
    {
        public static readonly UserIdConverter Instance = new();

        public override UserId Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            new(ReadInt64(ref reader, "A user id"));

        public override void Write(Utf8JsonWriter writer, UserId value, JsonSerializerOptions options) =>
            writer.WriteNumberValue(value.Value);

        public override UserId ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            new(ReadInt64Name(ref reader, "A user id"));

        public override void WriteAsPropertyName(Utf8JsonWriter writer, UserId value, JsonSerializerOptions options) =>
            WriteInt64Name(writer, value.Value);
    }

    private sealed class ProductIdConverter : JsonConverter<ProductId>
    {
        public static readonly ProductIdConverter Instance = new();

        public override ProductId Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            new(ReadInt64(ref reader, "A product id"));

        public override void Write(Utf8JsonWriter writer, ProductId value, JsonSerializerOptions options) =>
            writer.WriteNumberValue(value.Value);

        public override ProductId ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            new(ReadInt64Name(ref reader, "A product id"));

        public override void WriteAsPropertyName(Utf8JsonWriter writer, ProductId value, JsonSerializerOptions options) =>
            WriteInt64Name(writer, value.Value);
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

        // JSON null reads as the default key (whose text is null), as it is written.
        public override bool HandleNull => true;

        public override IdempotencyKey Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType switch
            {
                JsonTokenType.String => new(reader.GetString()!),
                JsonTokenType.Null => default,
                _ => throw new JsonException($"An idempotency key is a JSON string, not {reader.TokenType}."),
            };

        public override void Write(Utf8JsonWriter writer, IdempotencyKey value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.Value);
    }
}
