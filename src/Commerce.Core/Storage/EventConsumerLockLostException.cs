namespace Commerce.Storage;

/// <summary>
/// An event consumer's lock (<see cref="IEventConsumerLock"/>) is no longer held, so nothing was saved through it:
/// another holder may deliver the consumer's events now. The lock is to be disposed, and taken again before the
/// consumer goes on from its saved checkpoint.
/// </summary>
public sealed class EventConsumerLockLostException : Exception
{
    /// <summary>Creates the exception with a default message.</summary>
    public EventConsumerLockLostException()
        : base("The event consumer's lock is no longer held; nothing was saved.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public EventConsumerLockLostException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the failure that lost the lock.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The failure that lost the lock.</param>
    public EventConsumerLockLostException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
