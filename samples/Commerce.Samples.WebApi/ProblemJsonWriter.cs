using System.Diagnostics;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Commerce.Samples.WebApi;

/// <summary>
/// Writes every problem the API answers with as <c>application/problem+json</c>, whatever the request's <c>Accept</c>
/// header asks for. The framework's own writer declines a request that accepts no JSON (a browser's <c>text/html</c>,
/// <c>text/plain</c>): the status-code pages then send a plain-text line, an exception handler or the write limit's
/// rejection an empty body (the rejection a 500 instead of its 429), and a problem result writes its JSON without
/// <see cref="ApiResults.AddErrorCode"/>, so without its <c>traceId</c> or a 503's <c>Retry-After</c>. RFC 9110 lets an
/// error ignore <c>Accept</c>, and the API has one format for errors; this writer is registered ahead of the
/// framework's, so it writes them all.
/// </summary>
internal sealed class ProblemJsonWriter(IOptions<ProblemDetailsOptions> options, IOptions<JsonOptions> json) : IProblemDetailsWriter
{
    /// <summary>The media type of every problem (RFC 9457).</summary>
    public const string MediaType = "application/problem+json";

    /// <summary>Always: a problem is answered in its one format.</summary>
    public bool CanWrite(ProblemDetailsContext context) => true;

    /// <summary>
    /// Fills what the framework's writer fills (the status from the response, the status's RFC 9110 type and title,
    /// the <c>traceId</c>), runs <see cref="ProblemDetailsOptions.CustomizeProblemDetails"/>, and writes the problem
    /// with the API's JSON options.
    /// </summary>
    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var http = context.HttpContext;
        var problem = context.ProblemDetails;
        problem.Status ??= http.Response.StatusCode;
        var defaults = TypedResults.Problem(statusCode: problem.Status).ProblemDetails;
        problem.Type ??= defaults.Type;
        problem.Title ??= defaults.Title;
        problem.Extensions["traceId"] = Activity.Current?.Id ?? http.TraceIdentifier;
        options.Value.CustomizeProblemDetails?.Invoke(context);
        return new ValueTask(http.Response.WriteAsJsonAsync(
            problem, json.Value.SerializerOptions.GetTypeInfo(problem.GetType()), MediaType));
    }
}
