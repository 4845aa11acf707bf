using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Commerce.Samples.WebApi.Tests;

/// <summary>HEAD on a GET route answers as the GET would, status and headers, without a body.</summary>
public sealed class HeadRequestTests : ApiTest
{
    [Fact]
    public async Task Head_on_a_product_answers_as_get_without_the_body()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 2);

        var head = await AssertHeadAnswersAsGetAsync(Api.Anonymous, "/products/1");

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal("application/json", head.Content.Headers.ContentType?.MediaType);
        Assert.Equal(2, await Api.StockAsync(1)); // the connection serves the next request
    }

    [Fact]
    public async Task Head_on_a_missing_product_is_the_404_without_the_problem()
    {
        var head = await AssertHeadAnswersAsGetAsync(Api.Anonymous, "/products/99");

        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        Assert.Equal("application/problem+json", head.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Head_on_a_balance_needs_the_owners_token_as_get_does()
    {
        await Api.ChargeAsync(1, 100);

        Assert.Equal(HttpStatusCode.OK, (await AssertHeadAnswersAsGetAsync(Api.User(1), "/users/1/balance")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await AssertHeadAnswersAsGetAsync(Api.Anonymous, "/users/1/balance")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await AssertHeadAnswersAsGetAsync(Api.User(2), "/users/1/balance")).StatusCode);
        Assert.Equal(100, await Api.BalanceAsync(1));
    }

    [Theory]
    [InlineData("/products")]
    [InlineData("/products/popular")]
    [InlineData("/products/abc")]
    [InlineData("/health")]
    [InlineData("/metrics")]
    [InlineData("/openapi/v1.json")]
    [InlineData("/no-such-route")]
    [InlineData("/users/1/balance/charge")]
    public async Task Head_answers_as_get_on_every_route(string path) => await AssertHeadAnswersAsGetAsync(Api.Anonymous, path);

    [Theory]
    [InlineData("/users/1/ledger")]
    [InlineData("/users/1/orders")]
    [InlineData("/users/1/cart")]
    public async Task Head_answers_as_get_on_a_customers_routes(string path) => await AssertHeadAnswersAsGetAsync(Api.User(1), path);

    [Fact]
    public async Task Head_answers_as_get_on_an_order_and_on_the_event_feed()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 2);
        await Api.ChargeAsync(1, 10_000);
        var order = (await Api.PlaceOrderAsync(1, 1, 1)).GetProperty("id").GetGuid();

        Assert.Equal(HttpStatusCode.OK, (await AssertHeadAnswersAsGetAsync(Api.User(1), $"/orders/{order}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await AssertHeadAnswersAsGetAsync(Api.Admin, "/events")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await AssertHeadAnswersAsGetAsync(Api.Admin, "/events/stream?after=nonsense")).StatusCode);
    }

    [Fact]
    public async Task Head_on_the_event_stream_sends_its_headers_and_ends()
    {
        // The stream, as a GET, runs until the client goes: as a HEAD it has no body to follow, so the request
        // ends on the server once its headers are sent, rather than holding the connection.
        var ended = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await ApiServer.StartAsync(app => app.Use(async (context, next) =>
        {
            await next(context);
            if (context.Request.Path == "/events/stream")
            {
                ended.TrySetResult(context.Response.StatusCode);
            }
        }));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)); // a guard against a hang, not a timing assertion
        using var request = new HttpRequestMessage(HttpMethod.Head, "/events/stream");

        using var response = await server.Admin.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(timeout.Token));
        Assert.Equal(StatusCodes.Status200OK, await ended.Task.WaitAsync(timeout.Token));
    }

    [Theory]
    [InlineData("/products/1", "GET, HEAD")]
    [InlineData("/products", "GET, HEAD, POST")]
    [InlineData("/users/1/balance/charge", "POST")]
    public async Task A_405_lists_head_wherever_get_is_allowed(string path, string allowed)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(path, UriKind.Relative));

        using var response = await Client.SendAsync(request);

        await ApiServer.ExpectProblemAsync(response, HttpStatusCode.MethodNotAllowed, "MethodNotAllowed");
        Assert.Equal(allowed, string.Join(", ", response.Content.Headers.Allow.Order(StringComparer.Ordinal)));
    }

    [Fact]
    public async Task The_openapi_document_lists_get_operations_only_once_and_no_head()
    {
        var paths = (await Api.GetJsonAsync("/openapi/v1.json")).GetProperty("paths");

        Assert.All(paths.EnumerateObject(), path => Assert.False(path.Value.TryGetProperty("head", out _), path.Name));
        Assert.True(paths.GetProperty("/products/{id}").TryGetProperty("get", out _));
    }

    /// <summary>
    /// Sends a GET and a HEAD to <paramref name="path"/> and asserts that the HEAD has the GET's status,
    /// <c>Content-Type</c> and <c>Content-Length</c> (absent from both when the GET's body is chunked) and no body.
    /// </summary>
    private static async Task<HttpResponseMessage> AssertHeadAnswersAsGetAsync(ApiClient client, string path)
    {
        using var get = await client.GetAsync(path);
        using var request = new HttpRequestMessage(HttpMethod.Head, new Uri(path, UriKind.Relative));
        var head = await client.Http.SendAsync(request);

        Assert.True(get.StatusCode == head.StatusCode, $"{path}: GET answered {(int)get.StatusCode}, HEAD {(int)head.StatusCode}");
        Assert.Equal(get.Content.Headers.ContentType, head.Content.Headers.ContentType);
        Assert.Equal(RawContentLength(get), RawContentLength(head));
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        return head;

        // As sent: HttpClient's ContentLength property would count the body it read when the header is absent.
        static string? RawContentLength(HttpResponseMessage response) =>
            response.Content.Headers.NonValidated.TryGetValues("Content-Length", out var values) ? values.ToString() : null;
    }
}
