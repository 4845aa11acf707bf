using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Net.Http.Headers;
using Microsoft.OpenApi;

namespace Commerce.Samples.WebApi;

/// <summary>
/// Describes the problem details the API answers with as they are sent: besides the RFC 9457 members, every
/// problem carries <c>code</c> and <c>traceId</c>, and one that names products <c>productIds</c> (see
/// <see cref="ApiResults"/>). Without this the document would describe a closed object without them, which
/// every error response breaks. A 429 and a 503 come with a <c>Retry-After</c> header, which the document declares.
/// </summary>
internal static class OpenApiProblems
{
    public static OpenApiOptions DescribeProblemExtensions(this OpenApiOptions options)
    {
        options.AddSchemaTransformer((schema, context, _) =>
        {
            if (context.JsonTypeInfo.Type != typeof(ProblemDetails))
            {
                return Task.CompletedTask;
            }

            schema.Properties ??= new Dictionary<string, IOpenApiSchema>();
            schema.Properties["code"] = new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                Description = "The library's CommerceErrorCode name, or one of the API's own (InvalidRequest, Unauthorized, Forbidden, NotFound, TooManyRequests, …).",
            };
            schema.Properties["traceId"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The request's trace id." };
            schema.Properties["productIds"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Array,
                Items = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int64" },
                Description = "The products the error names (unknown or short of stock), when it names any.",
            };
            schema.Required ??= new HashSet<string>();
            schema.Required.Add("code");
            return Task.CompletedTask;
        });
        return options;
    }

    /// <summary>
    /// Declares the <c>Retry-After</c> header on every 429 (the write limit's rejection: the seconds left in the
    /// caller's window, see <see cref="RateLimits"/>) and every 503 (a store that refused: one second, see
    /// <see cref="ApiResults.AddErrorCode"/>) the document lists, since each is sent with one.
    /// </summary>
    public static OpenApiOptions DescribeRetryAfter(this OpenApiOptions options)
    {
        options.AddOperationTransformer((operation, _, _) =>
        {
            Declare(StatusCodes.Status429TooManyRequests, "The seconds left in the caller's write window, rounded up: a write sent after them is counted in a new window.");
            Declare(StatusCodes.Status503ServiceUnavailable, "The seconds to wait before retrying (1): nothing was changed.");
            return Task.CompletedTask;

            void Declare(int status, string description)
            {
                if (operation.Responses?.GetValueOrDefault(status.ToString(CultureInfo.InvariantCulture)) is not OpenApiResponse response)
                {
                    return;
                }

                response.Headers ??= new Dictionary<string, IOpenApiHeader>();
                response.Headers[HeaderNames.RetryAfter] = new OpenApiHeader
                {
                    Description = description,
                    Required = true,
                    Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "1" },
                };
            }
        });
        return options;
    }
}
