using Npgsql;

namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// Takes the connections of a pool whose <c>Timeout</c> is short (1 s), as the tests of an exhausted pool do.
/// </summary>
internal static class ShortTimeoutPool
{
    private const int Attempts = 10;

    /// <summary>
    /// Opens a connection on <paramref name="source"/>, trying again when the open times out. A data source's
    /// first open also loads the server's types, within that same short <c>Timeout</c>, which a loaded machine
    /// can exceed; a failed open gives its slot back to the pool, so the next attempt can succeed.
    /// </summary>
    public static async Task<NpgsqlConnection> HoldAsync(NpgsqlDataSource source)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await source.OpenConnectionAsync();
            }
            catch (NpgsqlException e) when (e.InnerException is TimeoutException && attempt < Attempts)
            {
            }
        }
    }
}
