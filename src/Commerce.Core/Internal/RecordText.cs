using System.Globalization;
using System.Text;

namespace Commerce;

/// <summary>
/// How records print members the compiler would print badly: a list of lines by its items (not its type's name),
/// and an instant in the round-trip format whatever the current culture (as ids and amounts print).
/// </summary>
internal static class RecordText
{
    /// <summary>Appends <c>name = [line, …]</c>, each line as <see cref="OrderLine.ToString"/> gives it.</summary>
    public static StringBuilder AppendLines(this StringBuilder builder, string name, IReadOnlyList<OrderLine>? lines)
    {
        builder.Append(name).Append(" = ");
        if (lines is null)
        {
            return builder;
        }

        builder.Append('[');
        for (var i = 0; i < lines.Count; i++)
        {
            builder.Append(i == 0 ? string.Empty : ", ").Append(lines[i].ToString());
        }

        return builder.Append(']');
    }

    /// <summary>
    /// Appends <c>name = [item, …]</c>, each item as its <c>ToString</c> gives it; for a null list only <c>name = </c>,
    /// as a record prints a null member (a list left null, as a JSON document without the member deserializes).
    /// </summary>
    public static StringBuilder AppendItems<T>(this StringBuilder builder, string name, IReadOnlyList<T>? items)
    {
        builder.Append(name).Append(" = ");
        return items is null ? builder : builder.Append('[').AppendJoin(", ", items).Append(']');
    }

    /// <summary>Whether two lists hold equal items in the same order; two null lists are equal, and a null list equals no list.</summary>
    public static bool SameItems<T>(IReadOnlyList<T>? first, IReadOnlyList<T>? second) =>
        ReferenceEquals(first, second) || (first is not null && second is not null && first.SequenceEqual(second));

    /// <summary>Appends <c>name = instant</c> in the round-trip ("O") format, culture-invariant.</summary>
    public static StringBuilder AppendInstant(this StringBuilder builder, string name, DateTimeOffset? at) =>
        builder.Append(name).Append(" = ").Append(at?.ToString("O", CultureInfo.InvariantCulture));
}
