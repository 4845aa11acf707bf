using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;

namespace Commerce.Samples.WebApi.Tests;

/// <summary>The real web API on Kestrel, on a free port of 127.0.0.1, with a client pointed at it.</summary>
public sealed class ApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ApiServer(WebApplication app, Uri address)
    {
        _app = app;
        Client = new HttpClient { BaseAddress = address };
    }

    public HttpClient Client { get; }

    /// <summary>Starts a server with an empty store; <paramref name="configure"/> may add routes or settings before it starts.</summary>
    public static async Task<ApiServer> StartAsync(Action<WebApplication>? configure = null, params string[] extraArgs)
    {
        string[] args =
        [
            "--urls", "http://127.0.0.1:0",
            "--environment", "Production",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Microsoft.AspNetCore.HttpLogging.HttpLoggingMiddleware=Warning",
            .. extraArgs,
        ];
        var app = Program.CreateApp(args);
        configure?.Invoke(app);
        await app.StartAsync();
        // After start, the addresses hold the port Kestrel actually bound.
        var address = new Uri(app.Urls.Single());
        return new ApiServer(app, address);
    }

    public Task<HttpResponseMessage> PostJsonAsync(string path, object body) => Client.PostAsJsonAsync(path, body);

    public Task<HttpResponseMessage> PostRawAsync(string path, string body, string mediaType = "application/json") =>
        Client.PostAsync(path, new StringContent(body, Encoding.UTF8, mediaType));

    /// <summary>POSTs without a body (cancel, checkout).</summary>
    public Task<HttpResponseMessage> PostAsync(string path) => Client.PostAsync(new Uri(path, UriKind.Relative), null);

    /// <summary>POSTs a JSON body (or none) with an <c>Idempotency-Key</c> header sent exactly as given, even empty.</summary>
    public async Task<HttpResponseMessage> PostWithKeyAsync(string path, object? body, string idempotencyKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative));
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        Assert.True(request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey));
        return await Client.SendAsync(request);
    }

    /// <summary>Places an order of one product and returns it.</summary>
    public async Task<JsonElement> PlaceOrderAsync(long user, long product, int quantity) =>
        await ExpectAsync(
            await PostJsonAsync("/orders", new { userId = user, items = new[] { new { productId = product, quantity } } }),
            HttpStatusCode.Created);

    public async Task ChargeAsync(long user, long amount) =>
        await ExpectAsync(await PostJsonAsync($"/users/{user}/balance/charge", new { amount }), HttpStatusCode.OK);

    public async Task AddProductAsync(long id, string name, long price, int stock) =>
        await ExpectAsync(await PostJsonAsync("/products", new { id, name, price, stock }), HttpStatusCode.Created);

    public async Task<long> BalanceAsync(long user) =>
        (await GetJsonAsync($"/users/{user}/balance")).GetProperty("balance").GetInt64();

    public async Task<int> StockAsync(long product) =>
        (await GetJsonAsync($"/products/{product}")).GetProperty("stock").GetInt32();

    public async Task<JsonElement> GetJsonAsync(string path) =>
        await ExpectAsync(await Client.GetAsync(new Uri(path, UriKind.Relative)), HttpStatusCode.OK);

    /// <summary>Asserts the status and a JSON body, and returns the body.</summary>
    public static async Task<JsonElement> ExpectAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Asserts an RFC 9457 problem details response with its status and <c>code</c>, and returns it.</summary>
    public static async Task<JsonElement> ExpectProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status} {code}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement.Clone();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        return problem;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Gives each test its own server and store.</summary>
public abstract class ApiTest : IAsyncLifetime
{
    private ApiServer? _server;

    protected ApiServer Api => _server ?? throw new InvalidOperationException("The server is not started.");

    protected HttpClient Client => Api.Client;

    public async Task InitializeAsync() => _server = await ApiServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
