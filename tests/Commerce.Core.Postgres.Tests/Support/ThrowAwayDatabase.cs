using Npgsql;

namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// A database of its own on the test server, with settings of its own (<c>ALTER DATABASE ... SET</c>), which every
/// session on it starts with, whether it connects directly or through PgBouncer (which passes no <c>Options</c>);
/// dropped, with the connections still on it, when disposed.
/// </summary>
internal sealed class ThrowAwayDatabase : IAsyncDisposable
{
    private ThrowAwayDatabase(string name) => Name = name;

    /// <summary>The database's name.</summary>
    public string Name { get; }

    /// <summary>A superuser connection string to the database, directly to the server, without pooling.</summary>
    public string ConnectionString => On(TestDatabase.ConnectionString) + ";Pooling=false";

    /// <summary>Creates a database whose sessions start with <paramref name="settings"/> (name and value, as <c>SET</c> takes them).</summary>
    public static async Task<ThrowAwayDatabase> CreateAsync(params (string Name, string Value)[] settings)
    {
        var database = new ThrowAwayDatabase("commerce_" + Guid.NewGuid().ToString("N")[..16]);
        await ExecuteAsync($"CREATE DATABASE {database.Name}");
        foreach (var (name, value) in settings)
        {
            await ExecuteAsync($"ALTER DATABASE {database.Name} SET {name} = '{value}'");
        }

        return database;
    }

    /// <summary><paramref name="connectionString"/> (to the test server, directly or through PgBouncer) with this database instead of its own.</summary>
    public string On(string connectionString) => new NpgsqlConnectionStringBuilder(connectionString) { Database = Name }.ConnectionString;

    /// <summary>Runs a scalar query on the database.</summary>
    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync();
        return value is DBNull or null ? default! : (T)Convert.ChangeType(value, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync() => await ExecuteAsync($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)");

    private static async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(TestDatabase.ConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
