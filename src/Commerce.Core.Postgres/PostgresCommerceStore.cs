using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>The PostgreSQL store: opens units of work on a data source. Thread-safe.</summary>
internal sealed class PostgresCommerceStore : ICommerceStore, IAsyncDisposable, IDisposable
{
    private readonly bool _ownsDataSource;

    public PostgresCommerceStore(NpgsqlDataSource dataSource, bool ownsDataSource, string schema, int? commandTimeout, TimeSpan rankingResolution)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(rankingResolution, TimeSpan.Zero);
        DataSource = dataSource;
        _ownsDataSource = ownsDataSource;
        Schema = schema;
        QuotedSchema = "\"" + schema + "\"";
        CommandTimeout = commandTimeout;
        RankingResolution = rankingResolution;
        Sql = new PostgresSql(QuotedSchema);
    }

    public NpgsqlDataSource DataSource { get; }

    public string Schema { get; }

    public string QuotedSchema { get; }

    public int? CommandTimeout { get; }

    public TimeSpan RankingResolution { get; }

    public PostgresSql Sql { get; }

    /// <summary>A test seam: called with the batch just before a commit sends it.</summary>
    internal Func<NpgsqlConnection, CancellationToken, Task>? BeforeCommit { get; set; }

    public ValueTask<IUnitOfWork> BeginAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<IUnitOfWork>(new PostgresUnitOfWork(this));
    }

    public void Dispose()
    {
        if (_ownsDataSource)
        {
            DataSource.Dispose();
        }
    }

    public ValueTask DisposeAsync() => _ownsDataSource ? DataSource.DisposeAsync() : ValueTask.CompletedTask;
}
