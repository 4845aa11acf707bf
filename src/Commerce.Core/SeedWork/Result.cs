using System.Diagnostics.CodeAnalysis;

namespace Commerce;

/// <summary>
/// The outcome of an operation that can fail for an expected business reason: either a
/// <see cref="Value"/> or an <see cref="Error"/>. A failure is data until someone asks for the value.
/// </summary>
/// <typeparam name="T">The type of the value on success.</typeparam>
/// <remarks>
/// A small immutable struct, so returning one allocates nothing. <c>default(Result&lt;T&gt;)</c> is
/// neither a success nor a usable failure: only results made by <see cref="Success"/> or
/// <see cref="Failure(CommerceError)"/> (or the implicit conversions) carry meaning. A default result
/// reports <see cref="IsSuccess"/> false, and every member that would read its value or its error throws
/// <see cref="InvalidOperationException"/>.
/// </remarks>
public readonly struct Result<T>
{
    private readonly T _value;
    private readonly CommerceError? _error;

    private Result(T value, CommerceError? error, bool isSuccess)
    {
        _value = value;
        _error = error;
        IsSuccess = isSuccess;
    }

    /// <summary>Whether the operation succeeded, so that <see cref="Value"/> may be read.</summary>
    [MemberNotNullWhen(false, nameof(Error))]
    public bool IsSuccess { get; }

    /// <summary>Whether the operation failed, so that <see cref="Error"/> may be read.</summary>
    [MemberNotNullWhen(true, nameof(Error))]
    public bool IsFailure => !IsSuccess;

    /// <summary>The value of a successful operation.</summary>
    /// <exception cref="InvalidOperationException">The result is a failure; the message names its error.</exception>
    public T Value => IsSuccess
        ? _value
        : throw (_error is null ? Uninitialised() : new InvalidOperationException($"The operation failed and has no value: {_error}"));

    /// <summary>The error of a failed operation, or <see langword="null"/> on success.</summary>
    /// <exception cref="InvalidOperationException">The result is <c>default</c>, neither a success nor a failure.</exception>
    public CommerceError? Error => IsSuccess || _error is not null ? _error : throw Uninitialised();

    /// <summary>Makes a successful result.</summary>
    /// <param name="value">The value.</param>
    /// <returns>A success holding <paramref name="value"/>.</returns>
    public static Result<T> Success(T value) => new(value, null, true);

    /// <summary>Makes a failed result.</summary>
    /// <param name="error">The error.</param>
    /// <returns>A failure holding <paramref name="error"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="error"/> is <see langword="null"/>.</exception>
    public static Result<T> Failure(CommerceError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return new(default!, error, false);
    }

    /// <summary>Makes a failed result from a code and a message.</summary>
    /// <param name="code">The error code.</param>
    /// <param name="message">A human readable description.</param>
    /// <returns>A failure.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="message"/> is <see langword="null"/>.</exception>
    public static Result<T> Failure(CommerceErrorCode code, string message) => Failure(new CommerceError(code, message));

    /// <summary>Converts a value into a successful result.</summary>
    /// <param name="value">The value.</param>
    [SuppressMessage("Usage", "CA2225:Operator overloads have named alternates", Justification = "Success is the named alternate.")]
    public static implicit operator Result<T>(T value) => Success(value);

    /// <summary>Converts an error into a failed result.</summary>
    /// <param name="error">The error.</param>
    /// <exception cref="ArgumentNullException"><paramref name="error"/> is <see langword="null"/>.</exception>
    [SuppressMessage("Usage", "CA2225:Operator overloads have named alternates", Justification = "Failure is the named alternate.")]
    public static implicit operator Result<T>(CommerceError error) => Failure(error);

    /// <summary>Returns the value on success or <paramref name="fallback"/> on failure.</summary>
    /// <param name="fallback">The value to return on failure.</param>
    /// <returns>The value or the fallback.</returns>
    /// <exception cref="InvalidOperationException">The result is <c>default</c>, neither a success nor a failure.</exception>
    public T GetValueOrDefault(T fallback) => IsSuccess ? _value : _error is not null ? fallback : throw Uninitialised();

    /// <summary>Reads the value and the error in one call.</summary>
    /// <param name="value">The value on success; default on failure.</param>
    /// <param name="error">The error on failure; <see langword="null"/> on success.</param>
    /// <returns><see langword="true"/> on success.</returns>
    /// <exception cref="InvalidOperationException">The result is <c>default</c>, neither a success nor a failure.</exception>
    public bool TryGetValue([MaybeNullWhen(false)] out T value, [NotNullWhen(false)] out CommerceError? error)
    {
        value = _value;
        error = Error;
        return IsSuccess;
    }

    /// <summary>Converts the value of a success; a failure passes through unchanged.</summary>
    /// <typeparam name="TOut">The new value type.</typeparam>
    /// <param name="map">The conversion.</param>
    /// <returns>The converted result.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="map"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The result is <c>default</c>, neither a success nor a failure.</exception>
    public Result<TOut> Map<TOut>(Func<T, TOut> map)
    {
        ArgumentNullException.ThrowIfNull(map);
        return IsSuccess ? Result<TOut>.Success(map(_value)) : Result<TOut>.Failure(Error);
    }

    /// <inheritdoc />
    public override string ToString() => IsSuccess ? $"Success({_value})" : _error is null ? "Uninitialised" : $"Failure({_error})";

    private static InvalidOperationException Uninitialised() => new("The result is uninitialised (default).");
}
