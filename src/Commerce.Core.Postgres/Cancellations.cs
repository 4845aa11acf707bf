namespace Commerce.Postgres;

/// <summary>Cancels the store's own tokens on disposal, whatever the callbacks registered on them do.</summary>
internal static class Cancellations
{
    /// <summary>
    /// Cancels <paramref name="source"/>, running every callback registered on it. A callback that throws (Npgsql's,
    /// cancelling a command on a connection that broke meanwhile, may: an <see cref="ObjectDisposedException"/> of its
    /// own wait handle) does not fail the disposal: the token is cancelled all the same, every callback has run, and
    /// the work it cancelled ends on its own, which the caller waits for.
    /// </summary>
    public static async Task CancelAllAsync(CancellationTokenSource source)
    {
        try
        {
            await source.CancelAsync().ConfigureAwait(false);
        }
        catch (AggregateException)
        {
            // See above: the cancellation took effect.
        }
    }

    /// <summary>As <see cref="CancelAllAsync"/>, on the calling thread.</summary>
    public static void CancelAll(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (AggregateException)
        {
            // See CancelAllAsync: the cancellation took effect.
        }
    }
}
