// An HTTP API over the Commerce library, on the in-memory store.
//
//   dotnet run --project samples/Commerce.Samples.WebApi -- --urls http://127.0.0.1:5080 --Seed:Enabled=true
//
// Every failure is RFC 9457 problem details with a "code" extension (see ApiResults).
using System.Text.Json.Serialization;
using Commerce;
using Commerce.Samples.WebApi;
using Microsoft.AspNetCore.HttpLogging;

await using var app = Program.CreateApp(args);
await app.RunAsync();

/// <summary>The web API's entry point; <see cref="CreateApp"/> builds the application for hosts and tests.</summary>
public partial class Program
{
    /// <summary>Builds the application (not started) from command-line arguments and the usual configuration sources.</summary>
    /// <param name="args">Command-line arguments, e.g. <c>--urls http://127.0.0.1:0</c>.</param>
    /// <returns>The application, ready for <c>StartAsync</c> or <c>RunAsync</c>.</returns>
    public static WebApplication CreateApp(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);

        builder.Services.AddCommerce().UseInMemoryStore();
        builder.Services.ConfigureHttpJsonOptions(options =>
        {
            // Numbers are numbers: "1000" (a string) is not an amount.
            options.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
        });
        // Malformed bodies and non-numeric ids get a 400 problem details in every environment, not an exception.
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = false);
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = ApiResults.AddErrorCode);
        builder.Services.AddHttpLogging(options =>
        {
            options.LoggingFields = HttpLoggingFields.RequestMethod | HttpLoggingFields.RequestPath
                | HttpLoggingFields.RequestQuery | HttpLoggingFields.ResponseStatusCode | HttpLoggingFields.Duration;
            options.CombineLogs = true;
        });
        builder.Services.AddHealthChecks();
        builder.Services.AddOpenApi();
        if (builder.Configuration.GetValue<bool>("Seed:Enabled"))
        {
            builder.Services.AddHostedService<SeedData>();
        }

        var app = builder.Build();

        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseHttpLogging();

        app.MapOpenApi();
        app.MapHealthChecks("/health");
        app.MapWalletEndpoints();
        app.MapProductEndpoints();
        app.MapOrderEndpoints();
        app.MapCartEndpoints();
        return app;
    }
}
