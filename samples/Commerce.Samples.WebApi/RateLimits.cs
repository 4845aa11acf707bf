using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace Commerce.Samples.WebApi;

/// <summary>Settings of the write rate limit (configuration section <c>RateLimiting:Writes</c>).</summary>
internal sealed class WriteRateLimitOptions
{
    public const string Section = "RateLimiting:Writes";

    /// <summary>How many writes one caller may make per window.</summary>
    public int PermitLimit { get; set; } = 60;

    /// <summary>The length of a window; it starts with a caller's first write.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// Every request that changes something (each POST and DELETE) counts against a fixed window per caller:
/// per user id for a token with one, per token subject otherwise, per client address without a token.
/// Past the limit the answer is 429 problem details with a <c>Retry-After</c> header; nothing is queued.
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

        services.AddRateLimiter(options =>
        {
            options.AddPolicy(Writes, context => RateLimitPartition.GetFixedWindowLimiter(
                PartitionKey(context),
                _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = settings.PermitLimit,
                    Window = settings.Window,
                    QueueLimit = 0,
                    AutoReplenishment = true,
                }));
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
        var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : settings.Window;
        var seconds = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds));
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
