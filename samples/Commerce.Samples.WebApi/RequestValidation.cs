using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Net.Http.Headers;

namespace Commerce.Samples.WebApi;

/// <summary>
/// Refuses malformed requests with a 400 problem that says what is wrong, before anything else looks at them:
/// route ids that are not ids, and bodies or query values the framework cannot bind.
/// </summary>
internal static partial class RequestValidation
{
    /// <summary>The route value that is an order id, a GUID.</summary>
    private const string OrderIdRouteValue = "orderId";

    /// <summary>The route values that are user or product ids, positive 64-bit integers.</summary>
    private static readonly HashSet<string> NumericIdRouteValues = new(StringComparer.OrdinalIgnoreCase) { "userId", "productId", "id" };

    /// <summary>
    /// Checks the id route values of the matched endpoint: <c>orderId</c> must be a GUID, <c>userId</c>, <c>productId</c>
    /// and <c>id</c> a positive 64-bit integer (other route values, such as the OpenAPI document's name, are left alone).
    /// Runs after routing and before authentication, so that a malformed URL is a 400 whoever asks.
    /// </summary>
    public static IApplicationBuilder UseRouteValueValidation(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            if (context.GetEndpoint() is RouteEndpoint { RoutePattern: var pattern })
            {
                foreach (var parameter in pattern.Parameters)
                {
                    if (Refusal(parameter, context.Request.RouteValues[parameter.Name] as string) is { } detail)
                    {
                        await ApiResults.BadRequest(detail).ExecuteAsync(context);
                        return;
                    }
                }
            }

            await next(context);
        });

    /// <summary>
    /// Reads request bodies through a buffering stream. A body that the JSON reader refuses part-way (a duplicate or
    /// unknown property) is refused by throwing (<c>ThrowOnBadRequest</c>), and the read it had open on the connection's
    /// own pipe stays open: Kestrel then cannot read the next request and drops the connection ("Reading is already in
    /// progress"). Over a buffer, the open read is the buffer's, and the connection stays usable.
    /// </summary>
    public static IApplicationBuilder UseRequestBodyBuffering(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            context.Request.EnableBuffering();
            return next(context);
        });

    private static string? Refusal(RoutePatternParameterPart parameter, string? value)
    {
        if (string.Equals(parameter.Name, OrderIdRouteValue, StringComparison.OrdinalIgnoreCase))
        {
            return Guid.TryParse(value, out _) ? null : $"route value '{parameter.Name}' must be a GUID.";
        }

        if (NumericIdRouteValues.Contains(parameter.Name))
        {
            return Security.TryParseId(value, out _) ? null : $"route value '{parameter.Name}' must be a positive integer.";
        }

        return null;
    }

    /// <summary>
    /// Turns the framework's <see cref="BadHttpRequestException"/> (a body or a query value it could not bind; thrown
    /// because <c>ThrowOnBadRequest</c> is on) into problem details that name the cause, instead of an empty 400.
    /// </summary>
    internal sealed class BadRequestHandler(IProblemDetailsService problems) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
        {
            if (exception is not BadHttpRequestException bad)
            {
                return false;
            }

            httpContext.Response.StatusCode = bad.StatusCode;
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = httpContext,
                ProblemDetails = { Status = bad.StatusCode, Detail = Describe(bad, httpContext.Request.Query) },
            });
        }
    }

    /// <summary>
    /// Answers a JSON body whose <c>Content-Type</c> names a charset that no <see cref="Encoding"/> here has
    /// (<c>application/json; charset=bogus</c>) with a 415 problem. The framework throws
    /// <see cref="InvalidOperationException"/> for it when it reads the body, which would otherwise be a 500; the
    /// handler acts only when the request's charset really is unknown, so every other such exception stays a 500.
    /// </summary>
    internal sealed class UnsupportedCharsetHandler(IProblemDetailsService problems) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
        {
            if (exception is not InvalidOperationException { InnerException: ArgumentException }
                || httpContext.Response.HasStarted
                || UnknownCharset(httpContext.Request.ContentType) is not { } charset)
            {
                return false;
            }

            httpContext.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = httpContext,
                ProblemDetails =
                {
                    Status = StatusCodes.Status415UnsupportedMediaType,
                    Detail = $"The Content-Type names the charset '{charset}', which the API cannot decode; send the JSON body in UTF-8.",
                },
            });
        }
    }

    /// <summary>
    /// The charset of a <c>Content-Type</c> when it is one that <see cref="Encoding.GetEncoding(string)"/> does not
    /// know, read as the framework reads it (one pair of quotes around a name removed, an empty <c>""</c> kept);
    /// null when there is none or it is known.
    /// </summary>
    internal static string? UnknownCharset(string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var mediaType) || !mediaType.Charset.HasValue)
        {
            return null;
        }

        var charset = mediaType.Charset.Value;
        var name = charset.Length > 2 && charset[0] == '"' && charset[^1] == '"' ? charset[1..^1] : charset;
        try
        {
            _ = Encoding.GetEncoding(name);
            return null;
        }
        catch (ArgumentException)
        {
            return charset;
        }
    }

    /// <summary>What a client needs to hear about a request the framework could not bind; never a .NET type name.</summary>
    /// <param name="bad">What the framework threw.</param>
    /// <param name="query">
    /// The request's query: a value sent there more than once is bound as its values joined by commas ("1,2"), which
    /// no number is, and the detail says it was sent twice rather than that it is not a number.
    /// </param>
    internal static string? Describe(BadHttpRequestException bad, IQueryCollection? query = null)
    {
        if (bad.StatusCode != StatusCodes.Status400BadRequest)
        {
            return null; // 413, 415 and the like: the status says it
        }

        if (FindJsonException(bad) is { } json)
        {
            var where = string.IsNullOrEmpty(json.Path) || json.Path == "$" ? "the JSON body" : $"'{json.Path}'";
            var message = json.Message;
            if (message.Contains("Duplicate", StringComparison.OrdinalIgnoreCase))
            {
                return $"The JSON body holds the property {where} more than once; send each property once.";
            }

            if (message.Contains("could not be mapped", StringComparison.Ordinal))
            {
                return $"The JSON body holds the property {where}, which this request does not take.";
            }

            if (MissingProperties().Match(message) is { Success: true } missing)
            {
                var names = missing.Groups["names"].Value;
                var noun = names.Contains(',', StringComparison.Ordinal) ? "properties" : "property";
                return $"The JSON body lacks the {noun} {names}, which this request needs.";
            }

            if (message.Contains("could not be converted", StringComparison.Ordinal))
            {
                return $"The JSON value at {where} is not of the expected type: ids, amounts and quantities are whole numbers in range, names are strings.";
            }

            return $"The request body is not well-formed JSON (at {where}).";
        }

        var match = BindFailure().Match(bad.Message);
        if (match.Success)
        {
            var name = match.Groups["name"].Value;
            if (query is not null && query[name].Count > 1)
            {
                return $"'{name}' must be sent at most once.";
            }

            return match.Groups["type"].Value.Contains("Guid", StringComparison.Ordinal)
                ? $"'{name}' must be a GUID."
                : $"'{name}' must be a whole number in range.";
        }

        // "Required parameter … was not provided from body", "Implicit body inferred for parameter … but no body was provided"
        if (bad.Message.Contains("body", StringComparison.OrdinalIgnoreCase))
        {
            return "The request needs a JSON body.";
        }

        return null;
    }

    private static JsonException? FindJsonException(Exception exception)
    {
        for (var inner = exception.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is JsonException json)
            {
                return json;
            }
        }

        return null;
    }

    // The serializer's message for a body that leaves out a required property (the type's name is not repeated):
    // JSON deserialization for type 'Commerce.Samples.WebApi.ChargeRequest' was missing required properties including: 'amount'.
    [GeneratedRegex("""missing required properties including: (?<names>.+?)\.?$""", RegexOptions.CultureInvariant)]
    private static partial Regex MissingProperties();

    // The framework's message for a route, query or header value it could not convert:
    // Failed to bind parameter "int? limit" from "ten".
    [GeneratedRegex("""^Failed to bind parameter "(?<type>[^"]*) (?<name>[^" ]+)" from """, RegexOptions.CultureInvariant)]
    private static partial Regex BindFailure();
}
