namespace Commerce;

/// <summary>
/// How the event dispatcher delivers events to the handlers and purges the event log. Set them in
/// <c>AddEventDispatcher(options =&gt; …)</c>; they are validated there and read once when the dispatcher is created.
/// Options changed on the registered instance after that validation are validated again then: creating the
/// dispatcher throws <see cref="InvalidOperationException"/> listing every problem. The dispatcher reads the instance
/// <c>AddEventDispatcher</c> registers, not <c>IOptions&lt;CommerceEventDispatcherOptions&gt;</c>:
/// <c>services.Configure&lt;CommerceEventDispatcherOptions&gt;(…)</c> changes nothing, so bind configuration in the
/// delegate (<c>AddEventDispatcher(options =&gt; section.Bind(options))</c>).
/// </summary>
public sealed class CommerceEventDispatcherOptions
{
    /// <summary>
    /// The most events one read takes, and so the most a handler gets between two saves of its checkpoint
    /// (a crash delivers at most this many again). Default 100; from 1 to 1,000.
    /// </summary>
    public int PageSize { get; set; } = 100;

    /// <summary>
    /// How many times in a row a handler is given an event before the event is a poison event (see
    /// <see cref="PoisonEventPolicy"/>). Default 10; at least 1.
    /// </summary>
    public int MaxDeliveryAttempts { get; set; } = 10;

    /// <summary>What happens to a poison event. Default <see cref="Commerce.PoisonEventPolicy.Skip"/>.</summary>
    public PoisonEventPolicy PoisonEventPolicy { get; set; } = PoisonEventPolicy.Skip;

    /// <summary>
    /// The first wait before a retry, of a failed handler call or of a failed store call; each further
    /// failure in a row doubles it, up to <see cref="MaxRetryDelay"/> (no jitter: one dispatcher per handler).
    /// Default 1 second; from 1 millisecond to 1 day.
    /// </summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait before a retry. Default 1 minute; from <see cref="RetryBaseDelay"/> to 1 day.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long events are kept: every <see cref="PurgeInterval"/>, the events committed longer ago than this
    /// that every registered handler has handled (by their saved checkpoints) are removed from the store.
    /// Default 7 days; <see langword="null"/> keeps every event. When set, from 1 second to 36,500 days (a
    /// longer one would reach before the calendar's start; use <see langword="null"/> to keep events for ever).
    /// </summary>
    /// <remarks>
    /// Only the handlers registered with this dispatcher hold events back: a reader of the feed outside
    /// them (for example a client polling with <c>?after=</c>) loses what it has not read within this time.
    /// </remarks>
    public TimeSpan? EventRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How often the event log is purged (the first time one interval after start). Default 1 hour; from 1 second to 1 day.</summary>
    public TimeSpan PurgeInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long disposing the dispatcher without a stop (a container disposed while the dispatcher runs, with no
    /// host's <c>StopAsync</c> before) waits for its delivery loops to end: the dispose ends them as a stop does, the
    /// loops save what they handled since their last checkpoint within this time (as within a stop's), and the dispose
    /// returns once they have ended or this time has passed, whichever comes first; a container disposes the store
    /// after the dispatcher. Default 30 seconds (the default of <c>HostOptions.ShutdownTimeout</c>, which bounds a
    /// host's stop); from zero to 1 day. Measured by the registered <see cref="TimeProvider"/>. It is also the time the
    /// loops have to save as they end when the token given to <c>StartAsync</c> is cancelled with no stop or dispose
    /// before.
    /// </summary>
    public TimeSpan DisposeTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a handler waits before it asks again for its lock while another dispatcher holds it: on a store shared by
    /// several host instances (the PostgreSQL store's database), each handler is delivered by one dispatcher at a time,
    /// the one holding its lock, and another takes over within this time once that one stops or its connection breaks.
    /// Default 10 seconds; from 1 millisecond to 1 day. A store used by one process only (the in-memory store) has no
    /// locks, and this is not used.
    /// </summary>
    public TimeSpan LockRetryDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A copy, so that later changes to a registered instance do not reach a running dispatcher.</summary>
    internal CommerceEventDispatcherOptions Snapshot() => (CommerceEventDispatcherOptions)MemberwiseClone();

    /// <summary>Takes every setting from another instance.</summary>
    internal void CopyFrom(CommerceEventDispatcherOptions other)
    {
        PageSize = other.PageSize;
        MaxDeliveryAttempts = other.MaxDeliveryAttempts;
        PoisonEventPolicy = other.PoisonEventPolicy;
        RetryBaseDelay = other.RetryBaseDelay;
        MaxRetryDelay = other.MaxRetryDelay;
        EventRetention = other.EventRetention;
        PurgeInterval = other.PurgeInterval;
        DisposeTimeout = other.DisposeTimeout;
        LockRetryDelay = other.LockRetryDelay;
    }

    /// <summary>The longest <see cref="EventRetention"/>: about a hundred years.</summary>
    internal static readonly TimeSpan MaxEventRetention = TimeSpan.FromDays(36_500);

    /// <summary>Lists every invalid setting.</summary>
    internal List<string> Validate()
    {
        var problems = new List<string>();
        void Check(bool ok, FormattableString problem)
        {
            if (!ok)
            {
                problems.Add(problem.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        Check(PageSize is >= 1 and <= 1000, $"{nameof(PageSize)} must be between 1 and 1000, but was {PageSize}.");
        Check(MaxDeliveryAttempts >= 1, $"{nameof(MaxDeliveryAttempts)} must be at least 1, but was {MaxDeliveryAttempts}.");
        Check(Enum.IsDefined(PoisonEventPolicy), $"{nameof(PoisonEventPolicy)} must be Skip or Stop, but was {PoisonEventPolicy}.");
        // The maximum is checked against the base only when the base is valid: else no maximum could be right.
        var baseValid = RetryBaseDelay >= TimeSpan.FromMilliseconds(1) && RetryBaseDelay <= TimeSpan.FromDays(1);
        Check(baseValid, $"{nameof(RetryBaseDelay)} must be between 1 millisecond and 1 day, but was {RetryBaseDelay}.");
        var leastMaxRetryDelay = baseValid ? RetryBaseDelay : TimeSpan.FromMilliseconds(1);
        Check(
            MaxRetryDelay >= leastMaxRetryDelay && MaxRetryDelay <= TimeSpan.FromDays(1),
            baseValid
                ? (FormattableString)$"{nameof(MaxRetryDelay)} must be between {nameof(RetryBaseDelay)} ({leastMaxRetryDelay}) and 1 day, but was {MaxRetryDelay}."
                : $"{nameof(MaxRetryDelay)} must be between 1 millisecond and 1 day, but was {MaxRetryDelay}.");
        Check(
            EventRetention is null || (EventRetention >= TimeSpan.FromSeconds(1) && EventRetention <= MaxEventRetention),
            $"{nameof(EventRetention)} must be between 1 second and 36500 days, or null to keep every event, but was {EventRetention}.");
        Check(PurgeInterval >= TimeSpan.FromSeconds(1) && PurgeInterval <= TimeSpan.FromDays(1), $"{nameof(PurgeInterval)} must be between 1 second and 1 day, but was {PurgeInterval}.");
        Check(DisposeTimeout >= TimeSpan.Zero && DisposeTimeout <= TimeSpan.FromDays(1), $"{nameof(DisposeTimeout)} must be between zero and 1 day, but was {DisposeTimeout}.");
        Check(LockRetryDelay >= TimeSpan.FromMilliseconds(1) && LockRetryDelay <= TimeSpan.FromDays(1), $"{nameof(LockRetryDelay)} must be between 1 millisecond and 1 day, but was {LockRetryDelay}.");
        return problems;
    }
}
