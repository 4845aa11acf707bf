namespace Commerce.Postgres;

/// <summary>Starts the store's background work without the caller's execution context.</summary>
internal static class DetachedTask
{
    /// <summary>
    /// Runs <paramref name="work"/> on the thread pool in no caller's execution context: the current span
    /// (<see cref="System.Diagnostics.Activity.Current"/>) and the other async-local state of whoever happens
    /// to start it neither parent the Npgsql spans of work done for every caller nor stay alive with it.
    /// </summary>
    public static Task Run(Func<Task> work)
    {
        // SuppressFlow throws if the flow is suppressed already; then there is nothing to suppress.
        if (ExecutionContext.IsFlowSuppressed())
        {
            return Task.Run(work);
        }

        using (ExecutionContext.SuppressFlow())
        {
            return Task.Run(work);
        }
    }
}
