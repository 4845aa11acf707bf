// An HTTP API over the Commerce library, on the in-memory store.
//
//   dotnet run --project samples/Commerce.Samples.WebApi -- --urls http://127.0.0.1:5080 --environment Development --Seed:Enabled=true
//
// Every failure is RFC 9457 problem details with a "code" extension (see ApiResults). Who may call what is in
// Security, the write rate limit in RateLimits, telemetry in Telemetry; samples/README.md describes all three.
using System.Text.Json.Serialization;
using Commerce;
using Commerce.Samples.WebApi;
using Microsoft.AspNetCore.HttpLogging;

await using var app = Program.CreateApp(args);
await app.RunAsync();

/// <summary>The web API's entry point; <see cref="CreateApp"/> builds the application for hosts and tests.</summary>
public partial class Program
{
    /// <summary>The routing metadata of an endpoint that answers GET only (HEAD runs as GET).</summary>
    private static readonly HttpMethodMetadata GetOnly = new([HttpMethods.Get]);

    /// <summary>Builds the application (not started) from command-line arguments and the usual configuration sources.</summary>
    /// <param name="args">Command-line arguments, e.g. <c>--urls http://127.0.0.1:0</c>.</param>
    /// <param name="configureServices">
    /// Runs on the services last, before the application is built: e.g. to register another <see cref="TimeProvider"/>,
    /// the clock of the library and of the write limit's windows.
    /// </param>
    /// <returns>The application, ready for <c>StartAsync</c> or <c>RunAsync</c>.</returns>
    public static WebApplication CreateApp(string[] args, Action<IServiceCollection>? configureServices = null)
    {
        var builder = WebApplication.CreateBuilder(args);

        // The library's options from the "Commerce" section of any configuration source (appsettings.json, the
        // environment as Commerce__MaxChargeAmount, the command line as --Commerce:MaxChargeAmount=500).
        builder.Services.AddCommerce(options => builder.Configuration.GetSection("Commerce").Bind(options)).UseInMemoryStore();
        builder.Services.ConfigureHttpJsonOptions(options =>
        {
            // Numbers are numbers: "1000" (a string) is not an amount.
            options.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
            // One meaning per body: {"amount":100,"amount":200} and properties the request does not take are refused,
            // rather than the last one or nothing silently winning.
            options.SerializerOptions.AllowDuplicateProperties = false;
            options.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
            // A property the request needs (one the OpenAPI document lists as required) is refused when left out,
            // rather than read as 0: a product added without a price would otherwise be free.
            options.SerializerOptions.RespectRequiredConstructorParameters = true;
        });
        // A body or query value the framework cannot bind throws BadHttpRequestException, which
        // RequestValidation.BadRequestHandler answers with a 400 problem naming the cause, in every environment.
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.AddExceptionHandler<RequestValidation.BadRequestHandler>();
        builder.Services.AddExceptionHandler<RequestValidation.UnsupportedCharsetHandler>();
        builder.Services.AddExceptionHandler<StoreUnavailableHandler>();
        // Ahead of the framework's writer, which declines a request that accepts no JSON: every problem is problem+json.
        builder.Services.AddSingleton<IProblemDetailsWriter, ProblemJsonWriter>();
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = ApiResults.AddErrorCode);
        builder.Services.AddHttpLogging(options =>
        {
            options.LoggingFields = HttpLoggingFields.RequestMethod | HttpLoggingFields.RequestPath
                | HttpLoggingFields.RequestQuery | HttpLoggingFields.ResponseStatusCode | HttpLoggingFields.Duration;
            options.CombineLogs = true;
        });
        builder.Services.AddSampleSecurity();
        builder.Services.AddWriteRateLimiting(builder.Configuration);
        builder.Services.AddSampleTelemetry(builder.Configuration);
        builder.Services.AddHealthChecks();
        builder.Services.AddOpenApi(options => options.AddBearerSecurity().DescribeProblemExtensions().DescribeRetryAfter());
        if (builder.Configuration.GetValue<bool>("Seed:Enabled"))
        {
            builder.Services.AddHostedService<SeedData>();
        }

        configureServices?.Invoke(builder.Services);

        var app = builder.Build();

        app.UseHttpLogging();            // first, so that it logs the status the client finally gets
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRequestBodyBuffering();
        app.UseHeadAsGet();              // HEAD on every GET route, answered as the GET without its body
        app.UseRouting();
        app.UseRouteValueValidation();   // 400 for a malformed id in the path, whoever asks
        app.UseAuthentication();
        app.UseAuthorization();          // 401 without a valid token, 403 without the right
        app.UseRateLimiter();            // after authentication: writes are counted per user

        // The one document the API has, at its one address: another name is an unknown route (a 404 problem), not
        // the framework's plain-text "No OpenAPI document with the name … was found".
        app.MapOpenApi("/openapi/v1.json");
        // Both are mapped for every method by default; GET alone (and so HEAD, see UseHeadAsGet) is what probes and
        // scrapers send, and any other method is a 405 problem with an Allow header, as on every other route.
        app.MapHealthChecks("/health").WithMetadata(GetOnly);
        app.MapPrometheusScrapingEndpoint().WithMetadata(GetOnly);
        // Every operation of the API may answer 500 (an unhandled exception) and 503 (StoreUnavailable: the store
        // refused a write or kept refusing a read), both as problems; the document lists them on each.
        var api = app.MapGroup("")
            .ProducesProblem(StatusCodes.Status500InternalServerError)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        api.MapWalletEndpoints();
        api.MapProductEndpoints();
        api.MapOrderEndpoints();
        api.MapCartEndpoints();
        api.MapEventEndpoints();
        return app;
    }
}
