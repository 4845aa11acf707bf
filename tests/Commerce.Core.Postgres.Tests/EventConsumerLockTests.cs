using Commerce.Events;
using Commerce.Postgres.Tests.Support;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>
/// The PostgreSQL store's event consumer locks (<see cref="IEventConsumerLocks"/>), as two host instances (service
/// providers, connection pools) on one database see them.
/// </summary>
public sealed class EventConsumerLockTests
{
    private static IEventConsumerLocks Locks(PgShop shop) => (IEventConsumerLocks)shop.Services.GetRequiredService<IEventStore>();

    private static IEventStore Events(PgShop shop) => shop.Services.GetRequiredService<IEventStore>();

    private static EventCursor Cursor(long sequence) => EventCursor.Start.Through(new EventPosition(3, sequence));

    [PostgresFact]
    public async Task A_consumers_lock_is_held_by_one_instance_at_a_time_and_free_again_once_disposed()
    {
        await using var first = await PgShop.CreateAsync();
        await using var second = await first.JoinAsync();

        var held = await Locks(first).TryLockAsync("mailer");
        Assert.NotNull(held);
        Assert.Equal("mailer", held.Consumer);
        Assert.Null(await Locks(second).TryLockAsync("mailer"));
        Assert.Null(await Locks(first).TryLockAsync("mailer")); // another connection of the same instance: held too

        // Another consumer's lock is its own.
        var other = await Locks(second).TryLockAsync("indexer");
        Assert.NotNull(other);
        await other.DisposeAsync();

        await held.DisposeAsync();
        await held.DisposeAsync(); // a second dispose does nothing
        var taken = await Locks(second).TryLockAsync("mailer");
        Assert.NotNull(taken);
        await taken.DisposeAsync();
    }

    [PostgresFact]
    public async Task A_checkpoint_saved_through_the_lock_is_the_consumers_checkpoint_for_every_instance()
    {
        await using var first = await PgShop.CreateAsync();
        await using var second = await first.JoinAsync();
        await using var held = (await Locks(first).TryLockAsync("mailer"))!;

        await held.SaveCheckpointAsync(Cursor(5));

        Assert.Equal(Cursor(5), await Events(second).LoadCheckpointAsync("mailer"));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await held.SaveCheckpointAsync(null!));
        Assert.Equal(Cursor(5), await Events(second).LoadCheckpointAsync("mailer"));
    }

    [PostgresFact]
    public async Task A_lock_whose_connection_ended_is_lost_saves_nothing_and_is_free_for_another_instance()
    {
        await using var first = await PgShop.CreateAsync();
        await using var second = await first.JoinAsync();
        var held = (await Locks(first).TryLockAsync("mailer"))!;
        await held.SaveCheckpointAsync(Cursor(5));

        await FaultTests.TerminateAsync(await HolderAsync(first, "mailer"));

        await Assert.ThrowsAsync<EventConsumerLockLostException>(async () => await held.SaveCheckpointAsync(Cursor(9)));
        await Assert.ThrowsAsync<EventConsumerLockLostException>(async () => await held.SaveCheckpointAsync(Cursor(9)));
        Assert.Equal(Cursor(5), await Events(second).LoadCheckpointAsync("mailer"));
        var taken = await Locks(second).TryLockAsync("mailer");
        Assert.NotNull(taken);
        await held.DisposeAsync();
        await taken.DisposeAsync();
    }

    [PostgresFact]
    public async Task A_locks_session_has_the_server_probe_its_client_so_a_host_that_vanished_frees_its_consumers_within_a_minute()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var held = (PostgresEventConsumerLock)(await Locks(shop).TryLockAsync("mailer"))!;

        Assert.Equal("30", await ShowAsync(held.Connection, "tcp_keepalives_idle"));
        Assert.Equal("10", await ShowAsync(held.Connection, "tcp_keepalives_interval"));
        Assert.Equal("3", await ShowAsync(held.Connection, "tcp_keepalives_count"));

        static async Task<string> ShowAsync(NpgsqlConnection connection, string setting)
        {
            await using var command = new NpgsqlCommand("SHOW " + setting, connection);
            return (string)(await command.ExecuteScalarAsync())!;
        }
    }

    [PostgresFact]
    public async Task A_disposed_lock_refuses_to_save()
    {
        await using var shop = await PgShop.CreateAsync();
        var held = (await Locks(shop).TryLockAsync("mailer"))!;
        await held.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await held.SaveCheckpointAsync(Cursor(1)));
        Assert.Null(await Events(shop).LoadCheckpointAsync("mailer"));
    }

    [PostgresFact]
    public async Task Stores_in_two_schemas_of_one_database_lock_their_consumers_apart()
    {
        await using var first = await PgShop.CreateAsync();
        await using var second = await PgShop.CreateAsync();
        Assert.NotEqual(first.Schema, second.Schema);

        await using var one = await Locks(first).TryLockAsync("mailer");
        await using var two = await Locks(second).TryLockAsync("mailer");

        Assert.NotNull(one);
        Assert.NotNull(two);
    }

    [PostgresFact]
    public async Task A_name_no_store_keeps_is_refused()
    {
        await using var shop = await PgShop.CreateAsync();

        await Assert.ThrowsAsync<ArgumentNullException>(async () => await Locks(shop).TryLockAsync(null!));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Locks(shop).TryLockAsync("a\0b"));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Locks(shop).TryLockAsync(new string('x', CheckpointNames.MaxLength + 1)));
    }

    /// <summary>The backend that holds <paramref name="consumer"/>'s lock (a bigint key is held as two 32-bit halves).</summary>
    private static async Task<int> HolderAsync(PgShop shop, string consumer)
    {
        var key = PostgresEventConsumerLock.KeyOf(shop.Schema, consumer);
        await using var connection = new NpgsqlConnection(PgShop.RequiredConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND classid = $1 AND objid = $2", connection);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = (long)((ulong)key >> 32) });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = (long)((ulong)key & 0xFFFF_FFFF) });
        return (int)(await command.ExecuteScalarAsync())!;
    }
}
