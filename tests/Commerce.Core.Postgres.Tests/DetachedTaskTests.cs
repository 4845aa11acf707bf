namespace Commerce.Postgres.Tests;

/// <summary>The store's background work (group loops, event notifications) runs in no caller's execution context.</summary>
public sealed class DetachedTaskTests
{
    private static readonly AsyncLocal<string?> Caller = new();

    [Fact]
    public async Task The_work_sees_none_of_the_async_local_state_of_the_caller_that_started_it()
    {
        Caller.Value = "request";
        var seen = "not run";

        await DetachedTask.Run(() =>
        {
            seen = Caller.Value;
            return Task.CompletedTask;
        });

        Assert.Null(seen);
        Assert.Equal("request", Caller.Value);
    }

    [Fact]
    public async Task A_caller_whose_flow_is_suppressed_already_can_start_it()
    {
        Task running;
        using (ExecutionContext.SuppressFlow())
        {
            running = DetachedTask.Run(() => Task.CompletedTask);
        }

        await running;
        Assert.False(ExecutionContext.IsFlowSuppressed());
    }
}
