using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// Turns a change set without writes into one validation statement (one snapshot): true iff every state
/// read is still current, every key read absent is still absent, and every listed range still holds as
/// many products.
/// </summary>
internal static class PostgresValidation
{
    /// <summary>The validation statement, or <see langword="null"/> if there is nothing to check.</summary>
    public static NpgsqlCommand? Build(PostgresCommerceStore store, NpgsqlConnection connection, ChangeSet changes)
    {
        var sql = store.Sql;
        var conditions = new List<string>();
        var command = store.Command(connection, string.Empty);
        foreach (var table in PostgresSql.KeyedTables)
        {
            Keys? present = null;
            Keys? absent = null;
            for (var i = 0; i < changes.Count; i++)
            {
                var change = changes[i];
                if (change.Key.Table != table || change.Kind != ChangeKind.Read)
                {
                    continue;
                }

                if (change.Seen.State is null)
                {
                    (absent ??= new()).Add(change.Key, 0);
                }
                else if (!change.Key.IsWriteOnce)
                {
                    (present ??= new()).Add(change.Key, change.Seen.Version);
                }
            }

            var t = (int)table;
            if (present is not null)
            {
                conditions.Add(sql.ValidatePresent(table));
                present.AddTo(command, table, "k" + t, "h" + t);
                command.Parameters.Add(new NpgsqlParameter<long[]>("v" + t, [.. present.Versions]));
                command.Parameters.Add(new NpgsqlParameter<long>("n" + t, present.Versions.Count));
            }

            if (absent is not null)
            {
                conditions.Add(sql.ValidateAbsent(table));
                absent.AddTo(command, table, "a" + t, "ah" + t);
            }
        }

        var ranges = changes.ProductRanges;
        for (var i = 0; i < ranges.Count; i++)
        {
            conditions.Add(sql.ValidatePage(i, fromStart: ranges[i].After is null));
            if (ranges[i].After is { } after)
            {
                command.Parameters.Add(new NpgsqlParameter<long>("pa" + i, after.Value));
            }

            command.Parameters.Add(new NpgsqlParameter<long>("pb" + i, ranges[i].UpTo));
            command.Parameters.Add(new NpgsqlParameter<long>("pn" + i, ranges[i].Count));
        }

        if (conditions.Count == 0)
        {
            command.Dispose();
            return null;
        }

        command.CommandText = "SELECT " + string.Join(" AND ", conditions);
        return command;
    }

    /// <summary>The keys of one table to check, as the arrays its key columns take.</summary>
    private sealed class Keys
    {
        private readonly List<long> _high = [];
        private readonly List<long> _low = [];
        private readonly List<Guid> _orders = [];

        public List<long> Versions { get; } = [];

        public void Add(StoreKey key, long version)
        {
            if (key.Table == StoreTable.Orders)
            {
                _orders.Add(key.OrderId.Value);
            }
            else
            {
                _high.Add(key.High);
                _low.Add(key.Low);
            }

            Versions.Add(version);
        }

        /// <summary>Adds the key array (<paramref name="name"/>), and the users' (<paramref name="highName"/>) for a table keyed by two words.</summary>
        public void AddTo(NpgsqlCommand command, StoreTable table, string name, string highName)
        {
            if (table == StoreTable.Orders)
            {
                command.Parameters.Add(new NpgsqlParameter<Guid[]>(name, [.. _orders]));
                return;
            }

            command.Parameters.Add(new NpgsqlParameter<long[]>(name, [.. _low]));
            if (PostgresSql.KeyWidth(table) == 2)
            {
                command.Parameters.Add(new NpgsqlParameter<long[]>(highName, [.. _high]));
            }
        }
    }
}
