using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Commerce.Samples.WebApi;

/// <summary>Settings of the write rate limit (configuration section <c>RateLimiting:Writes</c>).</summary>
internal sealed class WriteRateLimitOptions
{
    public const string Section = "RateLimiting:Writes";

    /// <summary>How many writes one caller may make per window.</summary>
    public int PermitLimit { get; set; } = 60;

    /// <summary>The length of a window; it starts with a caller's first write after their last window ended.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// Every request that changes something (each POST and DELETE) counts against a fixed window per caller:
/// per user id for a token with one, per token subject otherwise, per client address without a token.
/// Past the limit the answer is 429 problem details with a <c>Retry-After</c> header, the time left in the caller's
/// window; nothing is queued. Windows count on the registered <see cref="TimeProvider"/>.
/// </summary>
internal static class RateLimits
{
    public const string Writes = "writes";

    public static IServiceCollection AddWriteRateLimiting(this IServiceCollection services, IConfiguration configuration)
    {
        var settings = configuration.GetSection(WriteRateLimitOptions.Section).Get<WriteRateLimitOptions>() ?? new();
        if (settings.PermitLimit < 1 || settings.Window <= TimeSpan.Zero)
        {
            throw new InvalidOperationException(
                $"{WriteRateLimitOptions.Section}: PermitLimit must be 1 or more and Window longer than zero (were {settings.PermitLimit} and {settings.Window}).");
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddRateLimiter(options =>
        {
            options.AddPolicy(Writes, context =>
            {
                var clock = context.RequestServices.GetRequiredService<TimeProvider>();
                return RateLimitPartition.Get(PartitionKey(context), _ => new WriteWindowLimiter(settings.PermitLimit, settings.Window, clock));
            });
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.OnRejected = (rejected, _) => WriteRejectionAsync(rejected, settings);
        });
        return services;
    }

    private static string PartitionKey(HttpContext context)
    {
        if (Security.TryGetUserId(context.User, out var user))
        {
            return "user:" + user.Value.ToString(CultureInfo.InvariantCulture);
        }

        var subject = context.User.FindFirst(Security.UserIdClaim)?.Value;
        if (context.User.Identity?.IsAuthenticated == true && subject is not null)
        {
            return "subject:" + subject;
        }

        return "address:" + (context.Connection.RemoteIpAddress ?? IPAddress.None);
    }

    private static async ValueTask WriteRejectionAsync(OnRejectedContext rejected, WriteRateLimitOptions settings)
    {
        var http = rejected.HttpContext;
        // Whole seconds, rounded up (a client that waits that long finds the window over), and at least 1.
        var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : settings.Window;
        var seconds = Math.Max(1, (retryAfter.Ticks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond);
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);

        var problems = http.RequestServices.GetRequiredService<IProblemDetailsService>();
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails =
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = "Too Many Requests",
                Type = "https://tools.ietf.org/html/rfc6585#section-4",
                Detail = string.Create(
                    CultureInfo.InvariantCulture,
                    $"Too many writes: at most {settings.PermitLimit} every {settings.Window}. Retry after {seconds} seconds."),
                Extensions = { ["code"] = "TooManyRequests" },
            },
        });
    }
}

/// <summary>
/// One caller's fixed window, on a <see cref="TimeProvider"/>: a window opens with the first permit taken after the
/// last window ended and grants <c>permitLimit</c> permits until it ends. A refused lease carries
/// <see cref="MetadataName.RetryAfter"/>, the time left in the window. (The framework's
/// <see cref="FixedWindowRateLimiter"/> gives the whole window there however little of it is left, and counts on
/// the system's clock alone.) Permits are never queued; thread-safe.
/// </summary>
internal sealed class WriteWindowLimiter : RateLimiter
{
    private static readonly RateLimitLease Granted = new Lease(retryAfter: null);

    private readonly int _permitLimit;
    private readonly TimeSpan _window;
    private readonly TimeProvider _clock;
    private readonly long _created;
    private readonly Lock _lock = new();
    private long? _windowStart;
    private int _taken;
    private long _granted;
    private long _refused;

    public WriteWindowLimiter(int permitLimit, TimeSpan window, TimeProvider clock)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(permitLimit, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(clock);
        (_permitLimit, _window, _clock) = (permitLimit, window, clock);
        _created = clock.GetTimestamp();
    }

    /// <summary>
    /// How long since the last window ended (or since creation, before the first): null while a window is open,
    /// so that the partitioned limiter keeps a caller's count until their window is over.
    /// </summary>
    public override TimeSpan? IdleDuration
    {
        get
        {
            lock (_lock)
            {
                var now = _clock.GetTimestamp();
                if (_windowStart is not { } start)
                {
                    return _clock.GetElapsedTime(_created, now);
                }

                var left = _window - _clock.GetElapsedTime(start, now);
                return left > TimeSpan.Zero ? null : -left;
            }
        }
    }

    public override RateLimiterStatistics? GetStatistics()
    {
        lock (_lock)
        {
            return new RateLimiterStatistics
            {
                CurrentAvailablePermits = TimeLeft(_clock.GetTimestamp()) > TimeSpan.Zero ? _permitLimit - _taken : _permitLimit,
                CurrentQueuedCount = 0,
                TotalFailedLeases = _refused,
                TotalSuccessfulLeases = _granted,
            };
        }
    }

    /// <summary>
    /// Takes <paramref name="permitCount"/> permits from the open window, or opens one; 0 asks whether one is left.
    /// </summary>
    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(permitCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(permitCount, _permitLimit);
        lock (_lock)
        {
            var now = _clock.GetTimestamp();
            var left = TimeLeft(now);
            if (left <= TimeSpan.Zero)
            {
                if (permitCount == 0)
                {
                    return Granted;
                }

                (_windowStart, _taken, left) = (now, 0, _window);
            }

            if (permitCount == 0 ? _taken < _permitLimit : _taken + permitCount <= _permitLimit)
            {
                _taken += permitCount;
                _granted++;
                return Granted;
            }

            _refused++;
            return new Lease(left);
        }
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(AttemptAcquireCore(permitCount));
    }

    /// <summary>The time left in the open window; zero or less when none is open.</summary>
    private TimeSpan TimeLeft(long now) =>
        _windowStart is { } start ? _window - _clock.GetElapsedTime(start, now) : TimeSpan.Zero;

    /// <summary>A granted lease (no metadata) or a refused one that says how long until its window ends.</summary>
    private sealed class Lease(TimeSpan? retryAfter) : RateLimitLease
    {
        public override bool IsAcquired => retryAfter is null;

        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            if (retryAfter is { } wait && metadataName == MetadataName.RetryAfter.Name)
            {
                metadata = wait;
                return true;
            }

            metadata = null;
            return false;
        }
    }
}
