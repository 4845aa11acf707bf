using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Commerce.Samples.WebApi;

/// <summary>
/// OpenTelemetry: ASP.NET Core's and the library's metrics (meter <c>Commerce</c>) on a Prometheus scrape endpoint,
/// <c>GET /metrics</c>; with <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> set, metrics and traces (ASP.NET Core's and the
/// library's activity source <c>Commerce</c>) are also pushed over OTLP.
/// </summary>
internal static class Telemetry
{
    /// <summary>The name of the library's <c>Meter</c> and of its <c>ActivitySource</c>.</summary>
    public const string CommerceInstrumentation = "Commerce";

    public const string ServiceName = "Commerce.Samples.WebApi";

    public static IServiceCollection AddSampleTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        var otel = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(ServiceName))
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddMeter(CommerceInstrumentation)
                .AddPrometheusExporter())
            .WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation()
                .AddSource(CommerceInstrumentation));

        // The standard OTLP variables (OTEL_EXPORTER_OTLP_ENDPOINT, _PROTOCOL, _HEADERS) configure the exporter;
        // without an endpoint nothing is pushed, so a local run does not keep failing to reach a collector.
        if (!string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            otel.UseOtlpExporter();
        }

        return services;
    }
}
