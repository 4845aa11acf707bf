namespace Commerce;

/// <summary>
/// A store could not serve an operation for now, and applied nothing of it: for example a database
/// refused the connection (too many clients, a server shutting down or still starting up) or ran short of
/// a resource. Trying again later may succeed.
/// </summary>
/// <remarks>
/// A store throws it only where nothing of the operation can have applied: a commit whose outcome is in
/// doubt is a <see cref="CommitOutcomeUnknownException"/> instead. The services retry the use case, with
/// back-off, within <see cref="CommerceOptions.MaxCommitAttempts"/>; when every attempt was refused,
/// a service that returns a <see cref="Result{T}"/> returns <see cref="CommerceErrorCode.StoreUnavailable"/>,
/// and one that returns a plain value (a balance, a page, a ranking) throws this exception, with the last
/// refusal as its inner exception.
/// </remarks>
public sealed class StoreUnavailableException : Exception
{
    /// <summary>Creates the exception with a default message.</summary>
    public StoreUnavailableException()
        : base("The store is unavailable for now; nothing was applied.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public StoreUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the refusal that caused it.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The store's refusal.</param>
    public StoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a message, the refusal that caused it, and whether to retry it at once.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The store's refusal.</param>
    /// <param name="retryable">See <see cref="Retryable"/>.</param>
    public StoreUnavailableException(string message, Exception innerException, bool retryable)
        : base(message, innerException)
    {
        Retryable = retryable;
    }

    /// <summary>
    /// Whether the services should try again within <see cref="CommerceOptions.MaxCommitAttempts"/> (the
    /// default). <see langword="false"/> when the refusal itself took as long as a caller should wait, for
    /// example a connection pool that had no connection free within its timeout: the services then report
    /// it at once, as if every attempt had been refused.
    /// </summary>
    public bool Retryable { get; } = true;
}
