using System.Net;

namespace Commerce.Samples.WebApi.Tests;

public sealed class TelemetryTests : ApiTest
{
    [Fact]
    public async Task The_metrics_endpoint_serves_aspnetcore_metrics_in_the_prometheus_format_without_a_token()
    {
        var response = await Client.GetAsync(new Uri("/metrics", UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        // The scrape itself is an active request while the response is written: ASP.NET Core's own meter counts it.
        Assert.Contains("\nhttp_server_active_requests", "\n" + body, StringComparison.Ordinal);
        Assert.Contains("# TYPE http_server_active_requests gauge", body, StringComparison.Ordinal);
    }
}
