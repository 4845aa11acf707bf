namespace Commerce;

/// <summary>
/// A store could not tell whether a commit applied: for example the connection to a database failed
/// while the commit was in flight. The commit applied entirely or not at all; read the state again to
/// find out which (an order placed by the commit, for example, exists or does not).
/// </summary>
/// <remarks>
/// The services let it through rather than guess: retrying blindly could apply a use case twice, and
/// reporting a failure could hide one that applied.
/// </remarks>
public sealed class CommitOutcomeUnknownException : Exception
{
    /// <summary>Creates the exception with a default message.</summary>
    public CommitOutcomeUnknownException()
        : base("The store could not tell whether a commit applied; it applied entirely or not at all.")
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
    /// <param name="innerException">The failure that hid the outcome.</param>
    public CommitOutcomeUnknownException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
