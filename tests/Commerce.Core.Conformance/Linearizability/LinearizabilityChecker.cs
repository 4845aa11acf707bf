namespace Commerce.Conformance.Linearizability;

/// <summary>
/// A Wing–Gong search: is there a sequential order of the operations, consistent with real-time precedence
/// (an operation that returned before another was invoked comes first) and with each thread's program
/// order, in which the specification gives every recorded answer? Visited (remaining operations, state)
/// pairs are memoised, so each is explored once.
/// </summary>
internal static class LinearizabilityChecker
{
    private const string GaveUp = "error ConcurrencyConflict";

    /// <summary>Returns a witness order if the history is linearizable, or <see langword="null"/> if it is not.</summary>
    public static IReadOnlyList<Operation>? FindLinearization(IReadOnlyList<IReadOnlyList<Operation>> threads, SpecState initial)
    {
        var next = new int[threads.Count];
        var visited = new HashSet<(string Remaining, SpecState State)>();
        var order = new List<Operation>();
        return Search(threads, next, initial, visited, order) ? order : null;
    }

    public static bool IsLinearizable(IReadOnlyList<IReadOnlyList<Operation>> threads, SpecState initial) =>
        FindLinearization(threads, initial) is not null;

    private static bool Search(IReadOnlyList<IReadOnlyList<Operation>> threads, int[] next, SpecState state, HashSet<(string, SpecState)> visited, List<Operation> order)
    {
        var done = true;
        for (var t = 0; t < threads.Count; t++)
        {
            done &= next[t] == threads[t].Count;
        }

        if (done)
        {
            return true;
        }

        if (!visited.Add((string.Join(",", next), state)))
        {
            return false;
        }

        for (var t = 0; t < threads.Count; t++)
        {
            if (next[t] == threads[t].Count)
            {
                continue;
            }

            var candidate = threads[t][next[t]];

            // Minimal: no other pending operation returned before this one was invoked. Each thread's first
            // pending operation returns before its later ones, so checking those is enough.
            var minimal = true;
            for (var u = 0; u < threads.Count && minimal; u++)
            {
                minimal = u == t || next[u] == threads[u].Count || threads[u][next[u]].Returned > candidate.Invoked;
            }

            if (!minimal)
            {
                continue;
            }

            // A use case that gave up on conflicts is documented to change nothing: it may sit anywhere.
            var (result, after) = candidate.Result == GaveUp ? (GaveUp, state) : state.Apply(candidate);
            if (result != candidate.Result)
            {
                continue;
            }

            next[t]++;
            order.Add(candidate);
            if (Search(threads, next, after, visited, order))
            {
                return true;
            }

            order.RemoveAt(order.Count - 1);
            next[t]--;
        }

        return false;
    }
}
