using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace Commerce;

/// <summary>
/// The library's instruments and its activity source. Names and units follow the OpenTelemetry semantic
/// conventions (dotted lower-case names, UCUM units, <c>error.type</c> on failed operations).
/// </summary>
/// <remarks>
/// The meter comes from the host's <see cref="IMeterFactory"/> when one is registered (the type is part of
/// the base class library, so the core needs no package for it): each service provider then has its own meter,
/// disposed with the provider. Without a factory every provider shares one static meter. The activity source is
/// static, as activity sources are: spans are told apart by their trace, not their source.
/// Every measurement is guarded by its instrument's <c>Enabled</c> flag and every tag by the activity's
/// <see cref="Activity.IsAllDataRequested"/>, so nothing is allocated or boxed when nobody listens.
/// </remarks>
internal sealed class CommerceTelemetry
{
    public const string OperationTag = "commerce.operation";
    public const string ErrorCodeTag = "commerce.error.code";
    public const string ErrorTypeTag = "error.type";
    public const string UserIdTag = "commerce.user.id";
    public const string ProductIdTag = "commerce.product.id";
    public const string OrderIdTag = "commerce.order.id";
    public const string ReplayedTag = "commerce.idempotency.replayed";
    public const string AttemptTag = "commerce.commit.attempt";
    public const string ConflictEvent = "commerce.commit.conflict";

    private static readonly string? Version = typeof(CommerceTelemetry).Assembly.GetName().Version?.ToString(3);

    /// <summary>The source of every use case's span.</summary>
    public static readonly ActivitySource ActivitySource = new(CommerceDiagnostics.ActivitySourceName, Version);

    // Durations of a use case run from microseconds (in memory) to seconds (a database under load).
    private static readonly double[] DurationBuckets =
        [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    // The error codes' names, boxed once, indexed by value.
    private static readonly object[] ErrorCodeNames = BuildErrorCodeNames();

    // Initialised after the arrays above, which the constructor uses.
    /// <summary>The instruments on a static meter, for hosts without an <see cref="IMeterFactory"/>.</summary>
    public static CommerceTelemetry Shared { get; } = new(new Meter(new MeterOptions(CommerceDiagnostics.MeterName) { Version = Version }));

    private CommerceTelemetry(Meter meter)
    {
        Meter = meter;
        Charges = meter.CreateCounter<long>("commerce.wallet.charges", "{charge}", "Charges applied to wallets (a replayed idempotent charge is not counted again).");
        OrdersPlaced = meter.CreateCounter<long>("commerce.orders.placed", "{order}", "Orders placed, by PlaceOrder or a cart's checkout (a replayed idempotent order is not counted again).");
        OrdersRefused = meter.CreateCounter<long>("commerce.orders.refused", "{order}", "Orders refused, by error code.");
        OrdersCancelled = meter.CreateCounter<long>("commerce.orders.cancelled", "{order}", "Orders cancelled.");
        OrderTotal = meter.CreateHistogram<long>("commerce.order.total", "{minor_unit}", "The total of each placed order, in the smallest unit of the currency.");
        IdempotentReplays = meter.CreateCounter<long>("commerce.idempotency.replays", "{request}", "Keyed requests answered with a stored outcome, running nothing.");
        CommitAttempts = meter.CreateCounter<long>("commerce.commit.attempts", "{attempt}", "Commits tried by use cases, including those that conflicted.");
        CommitConflicts = meter.CreateCounter<long>("commerce.commit.conflicts", "{conflict}", "Commits that found something they read changed, and applied nothing (the use case then ran again or gave up).");
        GiveUps = meter.CreateCounter<long>("commerce.commit.give_ups", "{use_case}", "Use cases whose last allowed attempt (MaxCommitAttempts) conflicted: a write returned ConcurrencyConflict, a read threw InvalidOperationException.");
        Duration = meter.CreateHistogram(
            "commerce.use_case.duration",
            "s",
            "The duration of each use case, retries included.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
    }

    public Meter Meter { get; }

    public Counter<long> Charges { get; }

    public Counter<long> OrdersPlaced { get; }

    public Counter<long> OrdersRefused { get; }

    public Counter<long> OrdersCancelled { get; }

    public Histogram<long> OrderTotal { get; }

    public Counter<long> IdempotentReplays { get; }

    public Counter<long> CommitAttempts { get; }

    public Counter<long> CommitConflicts { get; }

    public Counter<long> GiveUps { get; }

    public Histogram<double> Duration { get; }

    /// <summary>Whether anyone listens to the activity source or the duration (the counters check their own flags).</summary>
    public bool IsListened => ActivitySource.HasListeners() || Duration.Enabled;

    /// <summary>The instruments on the factory's meter, or <see cref="Shared"/> without a factory.</summary>
    public static CommerceTelemetry Create(IMeterFactory? meterFactory) =>
        meterFactory is null ? Shared : new(meterFactory.Create(new MeterOptions(CommerceDiagnostics.MeterName) { Version = Version }));

    /// <summary>The name of an error code, as the <c>commerce.error.code</c> and <c>error.type</c> tags give it.</summary>
    public static object NameOf(CommerceErrorCode code) =>
        (uint)code < (uint)ErrorCodeNames.Length ? ErrorCodeNames[(int)code] : code.ToString();

    /// <summary>
    /// Starts a use case: its span (when someone listens to the activity source) and its clock (when someone
    /// listens to the duration). Tags that need the request are set by the caller on <see cref="UseCaseScope.Activity"/>.
    /// </summary>
    public UseCaseScope Start(UseCase useCase) =>
        new(this, useCase, ActivitySource.StartActivity(useCase.SpanName, ActivityKind.Internal), Duration.Enabled ? Stopwatch.GetTimestamp() : 0);

    /// <inheritdoc cref="Start(UseCase)"/>
    public UseCaseScope Start(UseCase useCase, UserId user)
    {
        var scope = Start(useCase);
        if (scope.Activity is { IsAllDataRequested: true } activity)
        {
            activity.SetTag(UserIdTag, user.Value);
        }

        return scope;
    }

    /// <inheritdoc cref="Start(UseCase)"/>
    public UseCaseScope Start(UseCase useCase, ProductId product)
    {
        var scope = Start(useCase);
        if (scope.Activity is { IsAllDataRequested: true } activity)
        {
            activity.SetTag(ProductIdTag, product.Value);
        }

        return scope;
    }

    /// <inheritdoc cref="Start(UseCase)"/>
    public UseCaseScope Start(UseCase useCase, OrderId order)
    {
        var scope = Start(useCase);
        if (scope.Activity is { IsAllDataRequested: true } activity)
        {
            activity.SetTag(OrderIdTag, order.ToString());
        }

        return scope;
    }

    /// <summary>Starts a use case whose request is <paramref name="request"/>: a user, product or order id, or a tuple led by one.</summary>
    public UseCaseScope Start<TRequest>(UseCase useCase, TRequest request)
    {
        var scope = Start(useCase);
        if (scope.Activity is { IsAllDataRequested: true } activity)
        {
            // Boxes the request, but only for a span that records its tags.
            switch (request is ITuple { Length: > 0 } tuple ? tuple[0] : request)
            {
                case UserId user:
                    activity.SetTag(UserIdTag, user.Value);
                    break;
                case ProductId product:
                    activity.SetTag(ProductIdTag, product.Value);
                    break;
                case OrderId order:
                    activity.SetTag(OrderIdTag, order.ToString());
                    break;
            }
        }

        return scope;
    }

    /// <summary>Counts one commit attempt of a use case run by the runtime.</summary>
    public void CommitAttempted(string operation)
    {
        if (CommitAttempts.Enabled)
        {
            CommitAttempts.Add(1, UseCase.Of(operation).Tag);
        }
    }

    /// <summary>Counts a commit that conflicted (and applied nothing), and adds it to the use case's span as an event.</summary>
    public void CommitConflicted(string operation, int attempt)
    {
        if (CommitConflicts.Enabled)
        {
            CommitConflicts.Add(1, UseCase.Of(operation).Tag);
        }

        if (Activity.Current is { IsAllDataRequested: true } activity && activity.Source == ActivitySource)
        {
            activity.AddEvent(new ActivityEvent(ConflictEvent, tags: new ActivityTagsCollection { [AttemptTag] = attempt }));
        }
    }

    /// <summary>Counts a use case that gave up after conflicting every time.</summary>
    public void GaveUp(string operation)
    {
        if (GiveUps.Enabled)
        {
            GiveUps.Add(1, UseCase.Of(operation).Tag);
        }
    }

    /// <summary>Counts a keyed request answered with its stored outcome, and marks its span.</summary>
    public void Replayed(string operation)
    {
        if (IdempotentReplays.Enabled)
        {
            IdempotentReplays.Add(1, UseCase.Of(operation).Tag);
        }

        if (Activity.Current is { IsAllDataRequested: true } activity && activity.Source == ActivitySource)
        {
            activity.SetTag(ReplayedTag, true);
        }
    }

    private static object[] BuildErrorCodeNames()
    {
        var codes = Enum.GetValues<CommerceErrorCode>();
        var names = new object[codes.Max(c => (int)c) + 1];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = ((CommerceErrorCode)i).ToString();
        }

        return names;
    }
}
