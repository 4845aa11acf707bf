using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Samples.WebApi.Tests;

/// <summary>The real web API on Kestrel, on a free port of 127.0.0.1, with clients for each kind of caller.</summary>
public sealed class ApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly SocketsHttpHandler _handler = new();
    private readonly ConcurrentDictionary<string, ApiClient> _clients = new();

    private ApiServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
        Anonymous = new ApiClient(new HttpClient(_handler, disposeHandler: false) { BaseAddress = address });
    }

    public Uri Address { get; }

    /// <summary>A client that sends no token.</summary>
    public ApiClient Anonymous { get; }

    /// <summary>The anonymous client's <see cref="HttpClient"/>.</summary>
    public HttpClient Client => Anonymous.Http;

    /// <summary>A client that sends a customer token for <paramref name="userId"/> (<c>sub</c> = the id).</summary>
    public ApiClient User(long userId) => WithToken(TestTokens.ForUser(userId));

    /// <summary>A client that sends a token with the <c>catalog-admin</c> role.</summary>
    public ApiClient Admin => WithToken(TestTokens.ForCatalogAdmin());

    /// <summary>The server's services.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>A client that sends <paramref name="token"/> as its bearer token.</summary>
    public ApiClient WithToken(string token) => _clients.GetOrAdd(token, t =>
    {
        var http = new HttpClient(_handler, disposeHandler: false) { BaseAddress = Address };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", t);
        return new ApiClient(http);
    });

    /// <summary>
    /// Starts a server with an empty store that trusts <see cref="TestTokens"/> and, unless
    /// <paramref name="extraArgs"/> set it, has a write limit no test reaches; <paramref name="configure"/> may add routes.
    /// </summary>
    public static Task<ApiServer> StartAsync(Action<WebApplication>? configure = null, params string[] extraArgs) =>
        StartCoreAsync(configureServices: null, configure, extraArgs);

    /// <summary>Starts a server as <see cref="StartAsync(Action{WebApplication}?, string[])"/> does, on <paramref name="clock"/>.</summary>
    public static Task<ApiServer> StartWithClockAsync(TimeProvider clock, params string[] extraArgs) =>
        StartCoreAsync(services => services.AddSingleton(clock), configure: null, extraArgs);

    /// <summary>
    /// Starts a server as <see cref="StartAsync(Action{WebApplication}?, string[])"/> does, after
    /// <paramref name="configureServices"/> ran on its services (e.g. to set the library's options).
    /// </summary>
    public static Task<ApiServer> StartWithServicesAsync(Action<IServiceCollection> configureServices, params string[] extraArgs) =>
        StartCoreAsync(configureServices, configure: null, extraArgs);

    private static async Task<ApiServer> StartCoreAsync(
        Action<IServiceCollection>? configureServices, Action<WebApplication>? configure, string[] extraArgs)
    {
        string[] args =
        [
            "--urls", "http://127.0.0.1:0",
            "--environment", "Production",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Microsoft.AspNetCore.HttpLogging.HttpLoggingMiddleware=Warning",
            "--RateLimiting:Writes:PermitLimit=1000000",
            .. TestTokens.ServerArgs,
            .. extraArgs, // the last value of a setting wins
        ];
        var app = Program.CreateApp(args, configureServices);
        configure?.Invoke(app);
        await app.StartAsync();
        // After start, the addresses hold the port Kestrel actually bound.
        var address = new Uri(app.Urls.Single());
        return new ApiServer(app, address);
    }

    /// <summary>Places an order of one product as <paramref name="user"/> and returns it.</summary>
    public async Task<JsonElement> PlaceOrderAsync(long user, long product, int quantity) =>
        await ExpectAsync(
            await User(user).PostJsonAsync("/orders", new { userId = user, items = new[] { new { productId = product, quantity } } }),
            HttpStatusCode.Created);

    /// <summary>Charges <paramref name="user"/>'s wallet as that user.</summary>
    public async Task ChargeAsync(long user, long amount) =>
        await ExpectAsync(await User(user).PostJsonAsync($"/users/{user}/balance/charge", new { amount }), HttpStatusCode.OK);

    /// <summary>Adds a product as a catalog administrator.</summary>
    public async Task AddProductAsync(long id, string name, long price, int stock) =>
        await ExpectAsync(await Admin.PostJsonAsync("/products", new { id, name, price, stock }), HttpStatusCode.Created);

    /// <summary>The balance, read by its owner.</summary>
    public async Task<long> BalanceAsync(long user) =>
        (await User(user).GetJsonAsync($"/users/{user}/balance")).GetProperty("balance").GetInt64();

    /// <summary>The stock, read anonymously (the catalog is public).</summary>
    public async Task<int> StockAsync(long product) =>
        (await GetJsonAsync($"/products/{product}")).GetProperty("stock").GetInt32();

    /// <summary>GETs a public resource anonymously and expects 200 with JSON.</summary>
    public Task<JsonElement> GetJsonAsync(string path) => Anonymous.GetJsonAsync(path);

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
        foreach (var client in _clients.Values)
        {
            client.Http.Dispose();
        }

        Client.Dispose();
        _handler.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Requests to the API as one caller (with that caller's token, or none).</summary>
public sealed class ApiClient(HttpClient http)
{
    public HttpClient Http { get; } = http;

    public Task<HttpResponseMessage> GetAsync(string path) => Http.GetAsync(new Uri(path, UriKind.Relative));

    public Task<HttpResponseMessage> DeleteAsync(string path) => Http.DeleteAsync(new Uri(path, UriKind.Relative));

    public Task<HttpResponseMessage> PostJsonAsync(string path, object body) => Http.PostAsJsonAsync(path, body);

    public Task<HttpResponseMessage> PostRawAsync(string path, string body, string mediaType = "application/json") =>
        Http.PostAsync(path, new StringContent(body, Encoding.UTF8, mediaType));

    /// <summary>POSTs without a body (cancel, checkout).</summary>
    public Task<HttpResponseMessage> PostAsync(string path) => Http.PostAsync(new Uri(path, UriKind.Relative), null);

    /// <summary>POSTs a JSON body (or none) with an <c>Idempotency-Key</c> header sent exactly as given, even empty.</summary>
    public async Task<HttpResponseMessage> PostWithKeyAsync(string path, object? body, string idempotencyKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative));
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        Assert.True(request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey));
        return await Http.SendAsync(request);
    }

    /// <summary>GETs and expects 200 with JSON.</summary>
    public async Task<JsonElement> GetJsonAsync(string path) => await ApiServer.ExpectAsync(await GetAsync(path), HttpStatusCode.OK);
}

/// <summary>Gives each test its own server and store.</summary>
public abstract class ApiTest : IAsyncLifetime
{
    private ApiServer? _server;

    protected ApiServer Api => _server ?? throw new InvalidOperationException("The server is not started.");

    /// <summary>The anonymous client (no token).</summary>
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
