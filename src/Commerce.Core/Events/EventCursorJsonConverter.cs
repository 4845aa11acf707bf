using System.Text.Json;
using System.Text.Json.Serialization;

namespace Commerce.Events;

/// <summary>
/// Writes an <see cref="EventCursor"/> to JSON as its text form (a string, <c>"3:5,17:2"</c>; <c>""</c> for the start)
/// and reads it back with <see cref="EventCursor.TryParse"/>. <see cref="EventCursor"/> names it in its
/// <see cref="JsonConverterAttribute"/>, so a host needs no setting for it, with reflection or a source-generated context.
/// </summary>
/// <remarks>Stateless and thread-safe.</remarks>
public sealed class EventCursorJsonConverter : JsonConverter<EventCursor>
{
    /// <inheritdoc />
    /// <exception cref="JsonException">The value is not a string, or not the text of a cursor.</exception>
    public override EventCursor Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new JsonException($"An event cursor is a JSON string, not {reader.TokenType}.");
        }

        return EventCursor.TryParse(reader.GetString(), out var cursor)
            ? cursor
            : throw new JsonException("The string is not an event cursor: " + EventCursor.Expected);
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, EventCursor value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        writer.WriteStringValue(value.ToString());
    }
}
