namespace Commerce;

/// <summary>
/// Limits, ranking defaults and retry behaviour. Set them in <c>AddCommerce(options =&gt; …)</c>; they are
/// validated there and read once when the services are created. Options changed on the registered instance
/// after that validation are validated again then: creating the services throws
/// <see cref="InvalidOperationException"/> listing every problem. The services read the instance <c>AddCommerce</c>
/// registers, not <c>IOptions&lt;CommerceOptions&gt;</c>: <c>services.Configure&lt;CommerceOptions&gt;(…)</c> changes nothing,
/// so bind configuration in the delegate (<c>AddCommerce(options =&gt; section.Bind(options))</c>).
/// </summary>
public sealed class CommerceOptions
{
    /// <summary>The largest single charge; positive. Default 10,000,000 (100,000.00 in a currency with cents).</summary>
    public Money MaxChargeAmount { get; set; } = new(10_000_000);

    /// <summary>The largest balance a wallet may reach; positive. Default 1,000,000,000.</summary>
    public Money MaxBalance { get; set; } = new(1_000_000_000);

    /// <summary>The largest quantity of one product in one order line or cart line; positive. Default 1,000,000.</summary>
    public int MaxLineQuantity { get; set; } = 1_000_000;

    /// <summary>The most distinct products in one order, and in one cart; positive. Default 100.</summary>
    public int MaxOrderLines { get; set; } = 100;

    /// <summary>The longest product name, in UTF-16 code units (a character outside the Basic Multilingual Plane counts two); positive. Default 200.</summary>
    public int MaxProductNameLength { get; set; } = 200;

    /// <summary>The page size of <see cref="ICatalogService.ListProductsAsync(CancellationToken)"/>; from 1 to <see cref="MaxPageSize"/>. Default 20.</summary>
    public int DefaultPageSize { get; set; } = 20;

    /// <summary>The largest page a listing may ask for; positive. Default 100.</summary>
    public int MaxPageSize { get; set; } = 100;

    /// <summary>How many products the default ranking returns; from 1 to <see cref="MaxPopularProductsCount"/>. Default 5.</summary>
    public int PopularProductsCount { get; set; } = 5;

    /// <summary>The largest count a ranking may ask for; positive. Default 100.</summary>
    public int MaxPopularProductsCount { get; set; } = 100;

    /// <summary>The window of the default ranking; positive and at most <see cref="MaxRankingWindow"/>. Default 3 days.</summary>
    public TimeSpan PopularProductsWindow { get; set; } = TimeSpan.FromDays(3);

    /// <summary>The longest window a ranking may ask for; positive and at most 3,660 days. Default 366 days.</summary>
    public TimeSpan MaxRankingWindow { get; set; } = TimeSpan.FromDays(366);

    /// <summary>
    /// The width of the time buckets the ranking counts sales in, and so the precision of its window
    /// (see <see cref="ISalesRankingService"/>). Default 1 minute; at least 1 second, at most 1 day.
    /// </summary>
    /// <remarks>
    /// A store's sales are counted in the buckets of the resolution they were recorded with, so keep one
    /// resolution for the life of a store, on every instance that shares it: under another, the ranking reads
    /// the sales already counted in the wrong buckets, and an order placed before the change can no longer be
    /// cancelled (its units are not in the bucket the cancel takes them from; it ends in
    /// <see cref="CommerceErrorCode.ConcurrencyConflict"/>). The PostgreSQL store records the resolution of the
    /// first instance that migrates its schema and refuses to migrate for another.
    /// </remarks>
    public TimeSpan RankingResolution { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How many times a use case runs before giving up with <see cref="CommerceErrorCode.ConcurrencyConflict"/>
    /// when commits keep conflicting, or with <see cref="CommerceErrorCode.StoreUnavailable"/> when the store
    /// refused the last attempt (<see cref="StoreUnavailableException"/>; conflicts and refusals share this
    /// budget and the back-off below); positive. Default 64.
    /// </summary>
    public int MaxCommitAttempts { get; set; } = 64;

    /// <summary>
    /// The base of the jittered exponential back-off between attempts. When the attempt that conflicted
    /// was quick (under 50 µs, as with the in-memory store), attempts 2 to 5 follow a short random spin on
    /// the calling thread (a few microseconds at most, since such a conflict is usually over by then) and
    /// before attempt n ≥ 6 the service waits a random time up to min(<see cref="MaxRetryDelay"/>,
    /// base × 2^(n−6)). When it was slow (a database round trip), attempt 2 runs at once and before
    /// attempt n ≥ 3 the service waits up to min(<see cref="MaxRetryDelay"/>, base × 2^(n−3)). Not negative; default 1 ms.
    /// </summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(1);

    /// <summary>The longest back-off between attempts; at least <see cref="RetryBaseDelay"/> and at most 30 seconds. Default 50 ms.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// How long the outcome of a request made with an <see cref="IdempotencyKey"/> is kept: a repeat within
    /// it gets the stored outcome; after it the key is forgotten and a call with it runs again. Expired
    /// records are purged by keyed requests: the first of the process, then one every quarter of this (one that
    /// throws, as a cancelled one does, leaves the purge to the next keyed request), none while none comes (a store may
    /// keep an expired record's row a while longer: the PostgreSQL store keeps each a day after it was written,
    /// by the server's clock, since it looks up lost commits by their records). Expiry is by the host's
    /// <see cref="TimeProvider"/>; after the clock jumps ahead, the purge also waits until a record is this old by
    /// the time that really passed, so that a retry made once the clock is set right still finds it. Default 24
    /// hours; at least 1 second, at most 366 days.
    /// </summary>
    public TimeSpan IdempotencyRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// Whether use cases publish events (<see cref="Events.CommerceEvent"/>) in their commits, for
    /// <see cref="Events.ICommerceEventFeed"/> and the event handlers. Default <see langword="true"/>; a host
    /// that reads no events may turn it off and save the outbox's writes.
    /// </summary>
    public bool PublishEvents { get; set; } = true;

    /// <summary>The most entries <see cref="IWalletService.GetLedgerAsync"/> and orders <see cref="IOrderService.ListOrdersAsync"/> return at once. Fixed at 1,000.</summary>
    internal const int MaxListLimit = 1000;

    /// <summary>A copy, so that later changes to a registered instance do not reach running services.</summary>
    internal CommerceOptions Snapshot() => (CommerceOptions)MemberwiseClone();

    /// <summary>Takes every setting from another instance.</summary>
    internal void CopyFrom(CommerceOptions other)
    {
        MaxChargeAmount = other.MaxChargeAmount;
        MaxBalance = other.MaxBalance;
        MaxLineQuantity = other.MaxLineQuantity;
        MaxOrderLines = other.MaxOrderLines;
        MaxProductNameLength = other.MaxProductNameLength;
        DefaultPageSize = other.DefaultPageSize;
        MaxPageSize = other.MaxPageSize;
        PopularProductsCount = other.PopularProductsCount;
        MaxPopularProductsCount = other.MaxPopularProductsCount;
        PopularProductsWindow = other.PopularProductsWindow;
        MaxRankingWindow = other.MaxRankingWindow;
        RankingResolution = other.RankingResolution;
        MaxCommitAttempts = other.MaxCommitAttempts;
        RetryBaseDelay = other.RetryBaseDelay;
        MaxRetryDelay = other.MaxRetryDelay;
        IdempotencyRetention = other.IdempotencyRetention;
        PublishEvents = other.PublishEvents;
    }

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

        Check(MaxChargeAmount.IsPositive, $"{nameof(MaxChargeAmount)} must be positive, but was {MaxChargeAmount}.");
        Check(MaxBalance.IsPositive, $"{nameof(MaxBalance)} must be positive, but was {MaxBalance}.");
        Check(MaxLineQuantity > 0, $"{nameof(MaxLineQuantity)} must be positive, but was {MaxLineQuantity}.");
        Check(MaxOrderLines > 0, $"{nameof(MaxOrderLines)} must be positive, but was {MaxOrderLines}.");
        Check(MaxProductNameLength > 0, $"{nameof(MaxProductNameLength)} must be positive, but was {MaxProductNameLength}.");
        Check(MaxPageSize > 0, $"{nameof(MaxPageSize)} must be positive, but was {MaxPageSize}.");
        Check(DefaultPageSize > 0 && DefaultPageSize <= MaxPageSize, $"{nameof(DefaultPageSize)} must be between 1 and {nameof(MaxPageSize)} ({MaxPageSize}), but was {DefaultPageSize}.");
        Check(MaxPopularProductsCount > 0, $"{nameof(MaxPopularProductsCount)} must be positive, but was {MaxPopularProductsCount}.");
        Check(PopularProductsCount > 0 && PopularProductsCount <= MaxPopularProductsCount, $"{nameof(PopularProductsCount)} must be between 1 and {nameof(MaxPopularProductsCount)} ({MaxPopularProductsCount}), but was {PopularProductsCount}.");
        Check(RankingResolution >= TimeSpan.FromSeconds(1) && RankingResolution <= TimeSpan.FromDays(1), $"{nameof(RankingResolution)} must be between 1 second and 1 day, but was {RankingResolution}.");
        Check(MaxRankingWindow > TimeSpan.Zero && MaxRankingWindow <= TimeSpan.FromDays(3660), $"{nameof(MaxRankingWindow)} must be positive and at most 3660 days, but was {MaxRankingWindow}.");
        Check(PopularProductsWindow > TimeSpan.Zero && PopularProductsWindow <= MaxRankingWindow, $"{nameof(PopularProductsWindow)} must be positive and at most {nameof(MaxRankingWindow)} ({MaxRankingWindow}), but was {PopularProductsWindow}.");
        Check(MaxCommitAttempts > 0, $"{nameof(MaxCommitAttempts)} must be positive, but was {MaxCommitAttempts}.");
        Check(RetryBaseDelay >= TimeSpan.Zero, $"{nameof(RetryBaseDelay)} cannot be negative, but was {RetryBaseDelay}.");
        Check(MaxRetryDelay >= RetryBaseDelay && MaxRetryDelay <= TimeSpan.FromSeconds(30), $"{nameof(MaxRetryDelay)} must be at least {nameof(RetryBaseDelay)} ({RetryBaseDelay}) and at most 30 seconds, but was {MaxRetryDelay}.");
        Check(IdempotencyRetention >= TimeSpan.FromSeconds(1) && IdempotencyRetention <= TimeSpan.FromDays(366), $"{nameof(IdempotencyRetention)} must be between 1 second and 366 days, but was {IdempotencyRetention}.");
        return problems;
    }
}
