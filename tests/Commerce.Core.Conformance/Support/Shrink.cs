namespace Commerce.Conformance;

/// <summary>Shrinkers for generated lists: FsCheck tries each candidate and keeps the first that still fails.</summary>
public static class Shrink
{
    /// <summary>Halves first, then the list without one element, then each element shrunk in place.</summary>
    public static IEnumerable<T[]> List<T>(T[] items, Func<T, IEnumerable<T>>? element = null)
    {
        if (items.Length > 1)
        {
            yield return items[..(items.Length / 2)];
            yield return items[(items.Length / 2)..];
        }

        for (var i = 0; i < items.Length; i++)
        {
            yield return [.. items[..i], .. items[(i + 1)..]];
        }

        if (element is null)
        {
            yield break;
        }

        for (var i = 0; i < items.Length; i++)
        {
            foreach (var smaller in element(items[i]))
            {
                var copy = (T[])items.Clone();
                copy[i] = smaller;
                yield return copy;
            }
        }
    }

    /// <summary>Towards zero, keeping the sign.</summary>
    public static IEnumerable<long> Toward0(long value)
    {
        if (value == 0)
        {
            yield break;
        }

        yield return 0;
        if (value / 2 != 0)
        {
            yield return value / 2;
        }

        if (value > 0)
        {
            yield return value - 1;
        }
        else
        {
            yield return value + 1;
        }
    }
}
