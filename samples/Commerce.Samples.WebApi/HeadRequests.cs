namespace Commerce.Samples.WebApi;

/// <summary>
/// HEAD on every GET route, the framework's own (<c>/openapi</c>) included: a HEAD request runs as the GET it names,
/// and Kestrel sends that GET's status and headers without the body (it writes none for HEAD, whatever the
/// application writes; a chunked GET's HEAD has no <c>Content-Length</c> either). Routes stay mapped for GET alone,
/// so the OpenAPI document lists each operation once, as a GET; the <c>Allow</c> header of a 405 names HEAD wherever it
/// names GET.
/// </summary>
internal static class HeadRequests
{
    /// <summary>
    /// Runs each HEAD request as a GET; before routing, so that it finds the GET endpoints. A 405 that allows GET
    /// allows HEAD too: routing lists the methods the routes are mapped for, which leaves HEAD out.
    /// </summary>
    public static IApplicationBuilder UseHeadAsGet(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            context.Response.OnStarting(AllowHeadWithGet, context.Response);
            if (!HttpMethods.IsHead(context.Request.Method))
            {
                await next(context);
                return;
            }

            context.Features.Set(HeadRequest.Instance);
            context.Request.Method = HttpMethods.Get;
            try
            {
                await next(context);
            }
            finally
            {
                // Logs and metrics that read the method when the request ends see what the client sent.
                context.Request.Method = HttpMethods.Head;
            }
        });

    /// <summary>Adds HEAD after GET to the <c>Allow</c> header of a 405 response that lists GET without HEAD.</summary>
    private static Task AllowHeadWithGet(object state)
    {
        var response = (HttpResponse)state;
        if (response.StatusCode == StatusCodes.Status405MethodNotAllowed)
        {
            var allowed = response.Headers.Allow.ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var get = Array.FindIndex(allowed, HttpMethods.IsGet);
            if (get >= 0 && !Array.Exists(allowed, HttpMethods.IsHead))
            {
                response.Headers.Allow = string.Join(", ", allowed.Take(get + 1).Append(HttpMethods.Head).Concat(allowed.Skip(get + 1)));
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Whether the request, run as a GET, is a HEAD: an endpoint whose body never ends (a stream) stops at its headers.</summary>
    public static bool IsHead(HttpContext context) => context.Features.Get<HeadRequest>() is not null;

    /// <summary>The mark of a HEAD request that runs as a GET.</summary>
    private sealed class HeadRequest
    {
        public static readonly HeadRequest Instance = new();
    }
}
