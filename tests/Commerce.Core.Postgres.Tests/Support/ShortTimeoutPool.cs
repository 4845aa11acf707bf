using Npgsql;

namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// Opens the connections of a pool whose <c>Timeout</c> is short (1 s), as the tests of an exhausted pool do. A data
/// source's first open also loads the server's types, within that same short <c>Timeout</c>, which a loaded machine
/// can exceed; a failed open gives its slot back to the pool, so trying again can succeed.
/// </summary>
internal static class ShortTimeoutPool
{
    private const int Attempts = 10;

    /// <summary>Opens a connection on <paramref name="source"/>, trying again when the open times out.</summary>
    public static Task<NpgsqlConnection> HoldAsync(NpgsqlDataSource source) => RetryAsync(() => source.OpenConnectionAsync().AsTask());

    /// <summary>Runs <paramref name="open"/> (the first use of a data source, such as a shop's migration), again when it times out opening.</summary>
    public static async Task<T> RetryAsync<T>(Func<Task<T>> open)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await open();
            }
            catch (NpgsqlException e) when (e.InnerException is TimeoutException && attempt < Attempts)
            {
            }
        }
    }
}
