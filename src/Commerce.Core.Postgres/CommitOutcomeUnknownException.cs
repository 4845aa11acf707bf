namespace Commerce;

/// <summary>
/// The connection to PostgreSQL failed while a commit was in flight, so the commit may or may not have
/// been applied. It was applied entirely or not at all; read the state again to find out which.
/// </summary>
public sealed class CommitOutcomeUnknownException : Exception
{
    /// <summary>Creates the exception with a default message.</summary>
    public CommitOutcomeUnknownException()
        : base("The connection failed during a commit; it was applied entirely or not at all.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public CommitOutcomeUnknownException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the failure that caused it.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The connection failure.</param>
    public CommitOutcomeUnknownException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
