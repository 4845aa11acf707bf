using System.Diagnostics;

namespace Commerce;

/// <summary>
/// One use case being measured and traced, from <see cref="CommerceTelemetry.Start(UseCase)"/> to one of its
/// <c>End</c> methods, or to <see cref="Fail"/> when it throws. A value: starting one allocates nothing, and
/// its span is <see langword="null"/> when nobody listens.
/// </summary>
/// <remarks>
/// A refusal (a <see cref="Result{T}"/> failure) is a business outcome: the span gets the
/// <c>commerce.error.code</c> tag and keeps the status unset, as a server span does for a client's error,
/// except <see cref="CommerceErrorCode.ConcurrencyConflict"/> and <see cref="CommerceErrorCode.StoreUnavailable"/>
/// (the store could not commit, or refused), which are errors.
/// An exception sets the status to error and records the exception as an event.
/// </remarks>
internal readonly struct UseCaseScope
{
    private readonly CommerceTelemetry _telemetry;
    private readonly UseCase _useCase;
    private readonly long _started;

    public UseCaseScope(CommerceTelemetry telemetry, UseCase useCase, Activity? activity, long started)
    {
        _telemetry = telemetry;
        _useCase = useCase;
        Activity = activity;
        _started = started;
    }

    /// <summary>The use case's span, or <see langword="null"/> when nobody listens.</summary>
    public Activity? Activity { get; }

    /// <summary>Whether the use case has a span or a clock: if not, ending it only counts.</summary>
    public bool IsRecording => Activity is not null || _started != 0;

    /// <summary>Ends a use case with its result.</summary>
    public Result<T> End<T>(Result<T> result)
    {
        Stop(result.IsFailure ? result.Error : null);
        return result;
    }

    /// <summary>Ends a read that returns its value (and throws rather than refuse).</summary>
    public T EndRead<T>(T value)
    {
        Stop(null);
        return value;
    }

    /// <summary>Ends a charge: counts it if it applied (a replay applied nothing new).</summary>
    public Result<Money> EndCharge(Result<Money> result, bool replayed = false)
    {
        if (result.IsSuccess && !replayed && _telemetry.Charges.Enabled)
        {
            _telemetry.Charges.Add(1, _useCase.Tag);
        }

        return End(result);
    }

    /// <summary>Ends an order or a checkout: counts it placed (with its total) or refused (by error code), unless replayed.</summary>
    public Result<Order> EndOrder(Result<Order> result, bool replayed = false)
    {
        if (result.IsSuccess)
        {
            var order = result.Value;
            if (!replayed)
            {
                if (_telemetry.OrdersPlaced.Enabled)
                {
                    _telemetry.OrdersPlaced.Add(1, _useCase.Tag);
                }

                if (_telemetry.OrderTotal.Enabled)
                {
                    _telemetry.OrderTotal.Record(order.Total.Amount, _useCase.Tag);
                }
            }

            if (Activity is { IsAllDataRequested: true } activity)
            {
                activity.SetTag(CommerceTelemetry.OrderIdTag, order.Id.ToString());
            }
        }
        else if (!replayed && _telemetry.OrdersRefused.Enabled)
        {
            _telemetry.OrdersRefused.Add(1, _useCase.Tag, new(CommerceTelemetry.ErrorCodeTag, CommerceTelemetry.NameOf(result.Error.Code)));
        }

        return End(result);
    }

    /// <summary>Ends a cancel: counts it if the order was cancelled.</summary>
    public Result<Order> EndCancel(Result<Order> result)
    {
        if (result.IsSuccess && _telemetry.OrdersCancelled.Enabled)
        {
            _telemetry.OrdersCancelled.Add(1, _useCase.Tag);
        }

        if (result.IsSuccess && Activity is { IsAllDataRequested: true } activity)
        {
            activity.SetTag(CommerceTelemetry.UserIdTag, result.Value.UserId.Value);
        }

        return End(result);
    }

    /// <summary>
    /// Throws <see cref="OperationCanceledException"/> if <paramref name="cancellationToken"/> was cancelled, ending the
    /// use case as <see cref="Fail"/> does. A request refused on its arguments alone calls it before it answers, so that
    /// a caller that gave up gets the exception every other call with that token gets, not the refusal.
    /// </summary>
    public void ThrowIfCancellationRequested(CancellationToken cancellationToken)
    {
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
        }
        catch (OperationCanceledException e) when (Fail(e))
        {
            throw;
        }
    }

    /// <summary>
    /// Ends a use case that threw: records its duration with the exception's type as <c>error.type</c>, and
    /// marks its span as failed. Always <see langword="false"/>, to be used as an exception filter that lets
    /// the exception through untouched.
    /// </summary>
    public bool Fail(Exception exception)
    {
        var type = exception.GetType().FullName;
        if (_started != 0 && _telemetry.Duration.Enabled)
        {
            _telemetry.Duration.Record(Stopwatch.GetElapsedTime(_started).TotalSeconds, _useCase.Tag, new(CommerceTelemetry.ErrorTypeTag, type));
        }

        if (Activity is { } activity)
        {
            if (activity.IsAllDataRequested)
            {
                activity.SetTag(CommerceTelemetry.ErrorTypeTag, type);
                activity.AddException(exception);
            }

            activity.SetStatus(ActivityStatusCode.Error, exception.Message);
            activity.Dispose();
        }

        return false;
    }

    private void Stop(CommerceError? error)
    {
        if (_started != 0 && _telemetry.Duration.Enabled)
        {
            var seconds = Stopwatch.GetElapsedTime(_started).TotalSeconds;
            if (error is null)
            {
                _telemetry.Duration.Record(seconds, _useCase.Tag);
            }
            else
            {
                _telemetry.Duration.Record(seconds, _useCase.Tag, new(CommerceTelemetry.ErrorTypeTag, CommerceTelemetry.NameOf(error.Code)));
            }
        }

        if (Activity is not { } activity)
        {
            return;
        }

        if (error is not null)
        {
            if (activity.IsAllDataRequested)
            {
                activity.SetTag(CommerceTelemetry.ErrorCodeTag, CommerceTelemetry.NameOf(error.Code));
            }

            if (error.Code is CommerceErrorCode.ConcurrencyConflict or CommerceErrorCode.StoreUnavailable)
            {
                if (activity.IsAllDataRequested)
                {
                    activity.SetTag(CommerceTelemetry.ErrorTypeTag, CommerceTelemetry.NameOf(error.Code));
                }

                activity.SetStatus(ActivityStatusCode.Error, error.Message);
            }
        }

        activity.Dispose();
    }
}
