using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Commerce.Samples.WebApi;

/// <summary>Maps Commerce results to HTTP: the one place that decides status codes and problem details.</summary>
internal static partial class ApiResults
{
    /// <summary>The <c>code</c> of a request the framework or the API refuses before it reaches the library.</summary>
    public const string InvalidRequest = "InvalidRequest";

    /// <summary>The detail of every 503: a write the store refused, or a read it kept refusing.</summary>
    public const string StoreUnavailableDetail = "The store is unavailable for now; nothing was changed. Retry later.";

    /// <summary>The value on success, else the error as problem details.</summary>
    public static Results<TOk, ProblemHttpResult> ToHttp<T, TOk>(this Result<T> result, Func<T, TOk> onSuccess)
        where TOk : IResult =>
        result.IsSuccess ? onSuccess(result.Value) : Problem(result.Error);

    /// <summary>
    /// A library error as problem details: status by kind, <c>code</c> = the error code's name, <c>detail</c> = its
    /// message as <see cref="ClientDetail"/> gives it.
    /// </summary>
    public static ProblemHttpResult Problem(CommerceError error)
    {
        var extensions = new Dictionary<string, object?> { ["code"] = error.Code.ToString() };
        if (error.ProductIds.Count > 0)
        {
            extensions["productIds"] = error.ProductIds.Select(id => id.Value).ToArray();
        }

        return TypedResults.Problem(detail: ClientDetail(error), statusCode: StatusCodeOf(error.Code), extensions: extensions);
    }

    /// <summary>
    /// The library's message for a client. The library writes for the host's developer, and cites the option that sets
    /// a limit next to its value ("at most 100 (CommerceOptions.MaxOrderLines)"); a client can act on the value, not on
    /// a server option's name, so the citation goes. A store that refused a write gets the same detail as one that
    /// kept refusing a read (<see cref="StoreUnavailableHandler"/>): how the library retried is the server's concern.
    /// </summary>
    internal static string ClientDetail(CommerceError error) =>
        error.Code == CommerceErrorCode.StoreUnavailable
            ? StoreUnavailableDetail
            : OptionCitation().Replace(error.Message, static cited => cited.Groups["rest"].Success ? $" ({cited.Groups["rest"].Value})" : "");

    // " (CommerceOptions.MaxLineQuantity)", and " (CommerceOptions.MaxOrderLines, as an order)", whose rest stays.
    [GeneratedRegex(""" \(CommerceOptions\.\w+(?:, (?<rest>[^)]*))?\)""", RegexOptions.CultureInvariant)]
    private static partial Regex OptionCitation();

    /// <summary>A request refused by the API itself (e.g. a query value out of range): 400 with code <see cref="InvalidRequest"/>.</summary>
    public static ProblemHttpResult BadRequest(string detail) =>
        TypedResults.Problem(
            detail: detail,
            statusCode: StatusCodes.Status400BadRequest,
            extensions: new Dictionary<string, object?> { ["code"] = InvalidRequest });

    /// <summary>403 with code <c>Forbidden</c>: the caller is known but may not act on this resource.</summary>
    public static ProblemHttpResult Forbidden(string detail) =>
        TypedResults.Problem(
            detail: detail,
            statusCode: StatusCodes.Status403Forbidden,
            extensions: new Dictionary<string, object?> { ["code"] = "Forbidden" });

    public static int StatusCodeOf(CommerceErrorCode code) => code switch
    {
        CommerceErrorCode.ProductNotFound or CommerceErrorCode.OrderNotFound or CommerceErrorCode.CartItemNotFound
            => StatusCodes.Status404NotFound,
        CommerceErrorCode.InsufficientBalance or CommerceErrorCode.InsufficientStock or CommerceErrorCode.ProductAlreadyExists
            or CommerceErrorCode.BalanceLimitExceeded or CommerceErrorCode.ConcurrencyConflict
            or CommerceErrorCode.IdempotencyKeyReused or CommerceErrorCode.OrderAlreadyCancelled
            => StatusCodes.Status409Conflict,
        CommerceErrorCode.StoreUnavailable => StatusCodes.Status503ServiceUnavailable, // nothing changed; retry later
        _ => StatusCodes.Status400BadRequest, // invalid input: amounts, quantities, names, keys, empty or oversized orders
    };

    /// <summary>
    /// Gives every problem details response a <c>code</c>, also those the framework writes itself: malformed
    /// JSON, missing bodies and non-numeric ids (400), a missing or invalid token (401), a token without the right
    /// (403), unknown routes (404), a method the route does not answer (405), unhandled exceptions (500); a
    /// <c>detail</c> to those that come without one (400, 401, 403, 404, 405); and every 503 a <c>Retry-After</c> of one second,
    /// whether it comes from a result (a write the store refused) or from <see cref="StoreUnavailableHandler"/>.
    /// </summary>
    public static void AddErrorCode(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        var response = context.HttpContext.Response;
        if ((problem.Status ?? response.StatusCode) == StatusCodes.Status503ServiceUnavailable
            && !response.HasStarted && !response.Headers.ContainsKey("Retry-After"))
        {
            response.Headers.RetryAfter = "1";
        }

        if (!problem.Extensions.ContainsKey("code"))
        {
            problem.Extensions["code"] = (problem.Status ?? context.HttpContext.Response.StatusCode) switch
            {
                StatusCodes.Status400BadRequest => InvalidRequest,
                StatusCodes.Status401Unauthorized => "Unauthorized",
                StatusCodes.Status403Forbidden => "Forbidden",
                StatusCodes.Status404NotFound => "NotFound",
                StatusCodes.Status405MethodNotAllowed => "MethodNotAllowed",
                StatusCodes.Status413PayloadTooLarge => "PayloadTooLarge",
                StatusCodes.Status415UnsupportedMediaType => "UnsupportedMediaType",
                StatusCodes.Status429TooManyRequests => "TooManyRequests",
                >= 500 => "InternalError",
                _ => "HttpError",
            };
        }

        if (problem.Detail is null)
        {
            problem.Detail = problem.Status switch
            {
                StatusCodes.Status400BadRequest =>
                    "The request could not be read: check that the body is well-formed JSON of the expected shape and that ids and numbers are numeric.",
                StatusCodes.Status401Unauthorized =>
                    "This request needs a valid bearer token (Authorization: Bearer <token>).",
                StatusCodes.Status403Forbidden =>
                    "The token does not allow this request: a customer acts only on their own wallet, ledger, cart and orders, and the catalog is managed by the catalog-admin role.",
                StatusCodes.Status404NotFound =>
                    "No route of the API matches this address; its OpenAPI document, /openapi/v1.json, lists every route.",
                StatusCodes.Status405MethodNotAllowed =>
                    $"This route does not answer {context.HttpContext.Request.Method}; the Allow header lists the methods it answers.",
                _ => null,
            };
        }

        if (context.Exception is not null)
        {
            // Never show an exception's message or stack to a client; the host's log has them.
            problem.Detail = null;
            problem.Extensions.Remove("exception");
        }
    }
}

/// <summary>
/// Answers a read the store kept refusing (<see cref="StoreUnavailableException"/>, thrown by the
/// services' read-only methods once their retries ran out; nothing was changed) with 503 and code
/// <c>StoreUnavailable</c>, as a write refused so gets through its result: the client may retry later.
/// </summary>
internal sealed class StoreUnavailableHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not StoreUnavailableException)
        {
            return false;
        }

        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable; // Retry-After: AddErrorCode
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Detail = ApiResults.StoreUnavailableDetail,
                Extensions = { ["code"] = nameof(CommerceErrorCode.StoreUnavailable) },
            },
        });
    }
}
