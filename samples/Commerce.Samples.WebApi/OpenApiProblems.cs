using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Commerce.Samples.WebApi;

/// <summary>
/// Describes the problem details the API answers with as they are sent: besides the RFC 9457 members, every
/// problem carries <c>code</c> and <c>traceId</c>, and one that names products <c>productIds</c> (see
/// <see cref="ApiResults"/>). Without this the document would describe a closed object without them, which
/// every error response breaks.
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
}
