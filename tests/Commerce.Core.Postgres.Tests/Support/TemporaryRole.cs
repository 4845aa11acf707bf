using Npgsql;

namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// A login role of the test server made for one test: its connection string (without pooling, so that nothing of it
/// outlives the test), and, on disposal, the drop of whatever it was granted and of the role.
/// </summary>
internal sealed record TemporaryRole(string Name, string ConnectionString) : IAsyncDisposable
{
    /// <summary>
    /// Creates a login role named from <paramref name="prefix"/>, with <paramref name="options"/> (<c>CONNECTION LIMIT 0</c>,
    /// say), then runs as the server's administrator the statements <paramref name="grants"/> makes from the role's name
    /// and the quoted name of the database.
    /// </summary>
    public static async Task<TemporaryRole> CreateAsync(string prefix, string options = "", Func<string, string, string>? grants = null)
    {
        var name = prefix + Guid.NewGuid().ToString("N")[..16];
        await using var admin = new NpgsqlConnection(PgShop.RequiredConnectionString + ";Pooling=false");
        await admin.OpenAsync();
        var sql = $"CREATE ROLE {name} LOGIN {options};\n" + (grants?.Invoke(name, "\"" + admin.Database + "\"") ?? string.Empty);
        await using var command = new NpgsqlCommand(sql, admin);
        await command.ExecuteNonQueryAsync();
        return new TemporaryRole(name, new NpgsqlConnectionStringBuilder(PgShop.RequiredConnectionString) { Username = name, Pooling = false }.ConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        await using var admin = new NpgsqlConnection(PgShop.RequiredConnectionString + ";Pooling=false");
        await admin.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP OWNED BY {Name}; DROP ROLE IF EXISTS {Name}", admin);
        await command.ExecuteNonQueryAsync();
    }
}
