namespace Commerce.Events;

/// <summary>
/// Host code that reacts to the shop's events (sends e-mail, updates search, books revenue). Register it
/// with the event dispatcher (package Commerce.Core.Hosting); the dispatcher calls it for every event, each
/// stream's in commit order, at least once, and keeps a durable checkpoint per handler.
/// </summary>
/// <remarks>
/// Delivery is at least once: after a crash, the events handled since the last checkpoint are delivered
/// again, and a call that throws is made again with the same event, so a handler should be idempotent (for
/// example by <see cref="CommerceEvent.Position"/>).
/// </remarks>
public interface ICommerceEventHandler
{
    /// <summary>Handles one event.</summary>
    /// <param name="event">The event.</param>
    /// <param name="cancellationToken">Signals that the host is stopping.</param>
    /// <returns>A task that completes when the event is handled; a fault makes the dispatcher retry it.</returns>
    ValueTask HandleAsync(CommerceEvent @event, CancellationToken cancellationToken);
}
