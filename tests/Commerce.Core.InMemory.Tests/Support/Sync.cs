namespace Commerce.InMemory.Tests.Support;

/// <summary>Runs the services' value tasks to completion on the calling thread (the in-memory store never really waits).</summary>
internal static class Sync
{
    public static T Run<T>(ValueTask<T> task) => task.IsCompletedSuccessfully ? task.Result : task.AsTask().GetAwaiter().GetResult();
}
