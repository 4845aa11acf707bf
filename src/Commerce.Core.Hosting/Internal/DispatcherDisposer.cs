namespace Commerce.Events;

/// <summary>
/// Disposes the event dispatcher when the container disposes it, which is earlier than the container disposes the
/// dispatcher itself. A container disposes what it created in reverse order of creation, this transient included, and
/// the dispatcher resolves one from the root provider after it first resolves each handler. The singletons created
/// as the handler was resolved (the handler, if it is one, and those it depends on) come after the dispatcher, so the
/// container disposes them before it; they come before this instance, so the container disposes them after it, once the
/// dispatcher has ended its loops and waited for them.
/// </summary>
internal sealed class DispatcherDisposer : IDisposable, IAsyncDisposable
{
    // Set by a delivery loop, read by the thread that disposes the container.
    private IAsyncDisposable? _dispatcher;

    /// <summary>
    /// The dispatcher to dispose; set once the container has returned this instance, so that an instance the
    /// container disposes as it hands it out (because the container is being disposed) disposes nothing.
    /// </summary>
    public IAsyncDisposable? Dispatcher
    {
        get => Volatile.Read(ref _dispatcher);
        set => Volatile.Write(ref _dispatcher, value);
    }

    /// <summary>Disposes the dispatcher, blocking until its loops have ended or its wait is over.</summary>
    public void Dispose() => (Dispatcher as IDisposable)?.Dispose();

    /// <summary>Disposes the dispatcher.</summary>
    /// <returns>A task that completes once the dispatcher's loops have ended or its wait is over.</returns>
    public ValueTask DisposeAsync() => Dispatcher?.DisposeAsync() ?? ValueTask.CompletedTask;
}
