namespace Commerce.InMemory.Tests;

/// <summary>The append log under the indexes of orders and idempotency keys: positions taken once, items where they were put.</summary>
public sealed class AppendLogTests
{
    [Fact]
    public void A_free_position_is_offered_again_until_taken()
    {
        var log = new AppendLog<string?>();
        var first = log.Free();
        Assert.Equal(first, log.Free());
        log.Take();
        Assert.Equal(first + 1, log.Free());
        Assert.Equal(first + 1, log.Append("x"));
        Assert.Equal("x", log[first + 1]);
    }

    [Fact]
    public void A_thread_appending_to_two_logs_in_turn_keeps_its_blocks_in_each()
    {
        // A store has a log per table, and an order appends to several: switching between logs must not
        // make a thread give up its block (and reserve a new one) at every append. Kept, its blocks double:
        // 1, 2, 4 and 8 positions for 10 appends.
        var orders = new AppendLog<string?>();
        var keys = new AppendLog<string?>();
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(i, orders.Append($"order {i}"));
            Assert.Equal(i, keys.Append($"key {i}"));
        }

        Assert.Equal(1 + 2 + 4 + 8, orders.Reserved);
        Assert.Equal(1 + 2 + 4 + 8, keys.Reserved);
        Assert.Equal("order 9", orders[9]);
        Assert.Equal("key 9", keys[9]);
    }

    [Fact]
    public void A_thread_appending_to_the_logs_of_two_stores_in_turn_keeps_its_blocks_in_each()
    {
        // A store's hash tables have seven or eight logs of one item type (four indexes, the sales counts, the
        // idempotency keys' generations); a process may hold two stores. A thread that gave up its block at
        // every switch would reserve a block per append, each as small as a thread's first.
        var logs = Enumerable.Range(0, 16).Select(_ => new AppendLog<TwoStoresItem?>()).ToArray();
        for (var i = 0; i < 10; i++)
        {
            foreach (var log in logs)
            {
                Assert.Equal(i, log.Append(new TwoStoresItem(i)));
            }
        }

        Assert.All(logs, log => Assert.Equal(1 + 2 + 4 + 8, log.Reserved));
        Assert.All(logs, log => Assert.Equal(9, log[9]!.Value));
    }

    private sealed record TwoStoresItem(int Value);

    [Fact]
    public void Threads_that_each_append_once_and_end_reserve_no_more_positions_than_twice_what_they_appended()
    {
        // A host's pool threads come and go: the positions left in an ended thread's block are never used, so a
        // log whose every thread ended after a few appends (an order index, a hash table's entries) must not hold
        // a block's worth of positions per thread, whatever it keeps.
        var log = new AppendLog<string?>();
        const int Threads = 50;
        for (var t = 0; t < Threads; t++)
        {
            var thread = new Thread(() =>
            {
                log.Append("only");
                if (t % 2 == 0)
                {
                    log.Append("and another");
                }
            }) { IsBackground = true };
            thread.Start();
            thread.Join();
        }

        const int Appended = Threads + (Threads / 2);
        Assert.True(log.Reserved <= 2 * Appended, $"{log.Reserved} positions reserved for {Appended} appends by {Threads} threads that ended.");
    }

    [Fact]
    public void A_thread_that_appended_to_a_log_does_not_keep_it_alive()
    {
        var appended = AppendToANewLog();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(appended.TryGetTarget(out _));
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference<AppendLog<string?>> AppendToANewLog()
    {
        var log = new AppendLog<string?>();
        log.Append("kept only by the log");
        return new WeakReference<AppendLog<string?>>(log);
    }

    [Fact]
    public void Threads_appending_at_once_get_distinct_positions_holding_their_items()
    {
        const int Threads = 4;
        const int PerThread = 5_000; // many blocks and several chunks each
        var log = new AppendLog<string?>();
        var positions = new long[Threads][];
        using var start = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            var mine = new long[PerThread];
            start.SignalAndWait();
            for (var i = 0; i < PerThread; i++)
            {
                mine[i] = log.Append($"{t}:{i}");
            }

            positions[t] = mine;
        }) { IsBackground = true }).ToList();
        threads.ForEach(thread => thread.Start());
        threads.ForEach(thread => thread.Join());

        // The sequential model: each item where its append said, and no position given twice.
        Assert.Equal(Threads * PerThread, positions.SelectMany(p => p).Distinct().Count());
        for (var t = 0; t < Threads; t++)
        {
            for (var i = 0; i < PerThread; i++)
            {
                Assert.Equal($"{t}:{i}", log[positions[t][i]]);
            }
        }
    }
}
