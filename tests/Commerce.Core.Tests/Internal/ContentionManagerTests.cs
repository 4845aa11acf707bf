namespace Commerce.Tests.Internal;

/// <summary>The priority token of a use case that keeps losing, and the bounded wait of the others.</summary>
public sealed class ContentionManagerTests
{
    [Fact]
    public void The_token_goes_only_to_a_use_case_that_lost_enough_attempts_and_to_one_at_a_time()
    {
        var manager = new ContentionManager { PriorityAfterAttempts = 3 };
        Assert.Null(manager.TryTake(2, TimeSpan.Zero));
        var first = manager.TryTake(3, TimeSpan.Zero);
        Assert.NotNull(first);
        Assert.True(manager.IsHeld);
        Assert.Null(manager.TryTake(10, TimeSpan.Zero));

        manager.Release(new object()); // not the holder's: nothing happens
        manager.Release(null);
        Assert.True(manager.IsHeld);

        manager.Release(first);
        Assert.False(manager.IsHeld);
        Assert.NotNull(manager.TryTake(4, TimeSpan.Zero));
    }

    [Fact]
    public void Nobody_waits_when_the_token_is_free_or_their_own()
    {
        var manager = new ContentionManager { PriorityAfterAttempts = 1 };
        var gaveWay = 0;
        manager.OnGiveWay = () => gaveWay++;
        Assert.True(manager.GiveWayAsync(null, CancellationToken.None).IsCompletedSuccessfully);

        var token = manager.TryTake(1, TimeSpan.Zero);
        Assert.True(manager.GiveWayAsync(token, CancellationToken.None).IsCompletedSuccessfully);
        Assert.Equal(0, gaveWay);
    }

    [Fact]
    public async Task Others_wait_until_the_holder_releases()
    {
        var manager = new ContentionManager { PriorityAfterAttempts = 1, FixedPatience = TimeSpan.FromMinutes(5) };
        var token = manager.TryTake(1, TimeSpan.Zero);
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        manager.OnGiveWay = () => waiting.TrySetResult();

        var wait = Task.Run(() => manager.GiveWayAsync(null, CancellationToken.None).AsTask());
        await waiting.Task;
        Assert.False(wait.IsCompleted);
        manager.Release(token);
        await wait;
    }

    [Fact]
    public async Task A_holder_that_never_releases_holds_the_others_for_its_patience_only()
    {
        // The holder stalls for ever (a descheduled thread): the others go on once its patience is spent.
        var manager = new ContentionManager { PriorityAfterAttempts = 1, FixedPatience = TimeSpan.FromMilliseconds(2) };
        _ = manager.TryTake(1, TimeSpan.Zero);
        await manager.GiveWayAsync(null, CancellationToken.None);
        Assert.True(manager.IsHeld);
    }

    [Fact]
    public async Task A_cancelled_waiter_stops_waiting()
    {
        var manager = new ContentionManager { PriorityAfterAttempts = 1, FixedPatience = TimeSpan.FromMinutes(5) };
        _ = manager.TryTake(1, TimeSpan.Zero);
        using var cancel = new CancellationTokenSource();
        manager.OnGiveWay = cancel.Cancel;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await manager.GiveWayAsync(null, cancel.Token));
    }
}
