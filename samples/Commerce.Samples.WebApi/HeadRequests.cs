namespace Commerce.Samples.WebApi;

/// <summary>
/// HEAD on every GET route, the framework's own (<c>/openapi</c>) included: a HEAD request runs as the GET it names,
/// and Kestrel sends that GET's status and headers without the body (it writes none for HEAD, whatever the
/// application writes; a chunked GET's HEAD has no <c>Content-Length</c> either). Routes stay mapped for GET alone,
/// so the OpenAPI document lists each operation once, as a GET.
/// </summary>
internal static class HeadRequests
{
    /// <summary>Runs each HEAD request as a GET; before routing, so that it finds the GET endpoints.</summary>
    public static IApplicationBuilder UseHeadAsGet(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
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

    /// <summary>Whether the request, run as a GET, is a HEAD: an endpoint whose body never ends (a stream) stops at its headers.</summary>
    public static bool IsHead(HttpContext context) => context.Features.Get<HeadRequest>() is not null;

    /// <summary>The mark of a HEAD request that runs as a GET.</summary>
    private sealed class HeadRequest
    {
        public static readonly HeadRequest Instance = new();
    }
}
