namespace Commerce.Storage;

/// <summary>
/// The consumer names every <see cref="IEventStore"/> keeps checkpoints under: any string of at most
/// <see cref="MaxLength"/> characters without U+0000 or an unpaired surrogate (a PostgreSQL <c>text</c> holds neither,
/// and its index of names takes at most 2,704 bytes a name). Stores and hosts check names here, so that every store
/// refuses the same ones.
/// </summary>
public static class CheckpointNames
{
    /// <summary>
    /// The longest name, in UTF-16 characters (<see cref="string.Length"/>): at three UTF-8 bytes a character at most,
    /// within the 2,704 bytes a PostgreSQL index entry holds.
    /// </summary>
    public const int MaxLength = 512;

    /// <summary>Whether every store can keep a checkpoint under <paramref name="name"/>.</summary>
    /// <param name="name">A consumer's name.</param>
    /// <returns>Whether it has at most <see cref="MaxLength"/> characters and holds neither U+0000 nor an unpaired surrogate.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is <see langword="null"/>.</exception>
    public static bool IsKeepable(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length > MaxLength)
        {
            return false;
        }

        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsHighSurrogate(c) && i + 1 < name.Length && char.IsLowSurrogate(name[i + 1]))
            {
                i++;
            }
            else if (c == '\0' || char.IsSurrogate(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Refuses a consumer name no store can keep (see <see cref="IsKeepable"/>).</summary>
    /// <param name="name">A consumer's name.</param>
    /// <param name="paramName">The name of the caller's parameter, for the exception.</param>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is longer than <see cref="MaxLength"/>, or holds U+0000 or an unpaired surrogate.</exception>
    public static void ThrowIfNotKeepable(string name, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(name))] string? paramName = null)
    {
        ArgumentNullException.ThrowIfNull(name, paramName);
        if (!IsKeepable(name))
        {
            throw new ArgumentException(
                name.Length > MaxLength
                    ? $"A consumer name has at most {MaxLength} characters (this one has {name.Length}): no store keeps a checkpoint under a longer one."
                    : "A consumer name cannot hold U+0000 or an unpaired surrogate: no store keeps a checkpoint under it.",
                paramName);
        }
    }
}
