namespace Commerce.Storage;

/// <summary>
/// The consumer names every <see cref="IEventStore"/> keeps checkpoints under: any string without U+0000 or an
/// unpaired surrogate (a PostgreSQL <c>text</c> holds neither, so no store accepts them). Stores and hosts
/// check names here, so that every store refuses the same ones.
/// </summary>
public static class CheckpointNames
{
    /// <summary>Whether every store can keep a checkpoint under <paramref name="name"/>.</summary>
    /// <param name="name">A consumer's name.</param>
    /// <returns>Whether it holds neither U+0000 nor an unpaired surrogate.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is <see langword="null"/>.</exception>
    public static bool IsKeepable(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
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
    /// <exception cref="ArgumentException"><paramref name="name"/> holds U+0000 or an unpaired surrogate.</exception>
    public static void ThrowIfNotKeepable(string name, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(name))] string? paramName = null)
    {
        ArgumentNullException.ThrowIfNull(name, paramName);
        if (!IsKeepable(name))
        {
            throw new ArgumentException("A consumer name cannot hold U+0000 or an unpaired surrogate: no store keeps a checkpoint under it.", paramName);
        }
    }
}
