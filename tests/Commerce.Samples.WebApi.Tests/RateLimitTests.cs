using System.Globalization;
using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Commerce.Samples.WebApi.Tests;

/// <summary>
/// The write limit, with a window of an hour so that no test comes near its end: the limit's requests pass,
/// the next is a 429 problem, and nothing depends on time.
/// </summary>
public sealed class RateLimitTests : IAsyncLifetime
{
    private const int Limit = 3;
    private ApiServer? _server;

    private ApiServer Api => _server ?? throw new InvalidOperationException("The server is not started.");

    public async Task InitializeAsync() =>
        _server = await ApiServer.StartAsync(null, $"--RateLimiting:Writes:PermitLimit={Limit}", "--RateLimiting:Writes:Window=01:00:00");

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Past_the_limit_a_write_is_a_429_problem_with_retry_after_and_changes_nothing()
    {
        for (var i = 0; i < Limit; i++)
        {
            await Api.ChargeAsync(1, 100);
        }

        var refused = await Api.User(1).PostJsonAsync("/users/1/balance/charge", new { amount = 100 });

        var problem = await ApiServer.ExpectProblemAsync(refused, HttpStatusCode.TooManyRequests, "TooManyRequests");
        Assert.Contains("Too many writes", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("https://tools.ietf.org/html/rfc6585#section-4", problem.GetProperty("type").GetString());
        var retryAfter = Assert.Single(refused.Headers.GetValues("Retry-After"));
        Assert.InRange(int.Parse(retryAfter, CultureInfo.InvariantCulture), 1, 3600);
        Assert.Equal(Limit * 100, await Api.BalanceAsync(1));
    }

    [Fact]
    public async Task Every_kind_of_write_counts_and_reads_do_not()
    {
        await ApiServer.ExpectAsync(await Api.Admin.PostJsonAsync("/products", new { id = 1, name = "Tea", price = 10, stock = 100 }), HttpStatusCode.Created);
        var user = Api.User(1);
        await ApiServer.ExpectAsync(await user.PostJsonAsync("/users/1/balance/charge", new { amount = 1000 }), HttpStatusCode.OK);
        await ApiServer.ExpectAsync(await user.PostJsonAsync("/users/1/cart/items", new { productId = 1, quantity = 1 }), HttpStatusCode.OK);
        for (var i = 0; i < 10; i++)
        {
            await user.GetJsonAsync("/users/1/balance");
            await user.GetJsonAsync("/users/1/cart");
        }

        await ApiServer.ExpectAsync(await user.PostAsync("/users/1/cart/checkout"), HttpStatusCode.Created);

        await ApiServer.ExpectProblemAsync(
            await user.PostJsonAsync("/orders", new { items = new[] { new { productId = 1, quantity = 1 } } }), HttpStatusCode.TooManyRequests, "TooManyRequests");
        await ApiServer.ExpectProblemAsync(await user.DeleteAsync("/users/1/cart/items/1"), HttpStatusCode.TooManyRequests, "TooManyRequests");
        Assert.Equal(990, await Api.BalanceAsync(1));
        Assert.Equal(99, await Api.StockAsync(1));
    }

    [Fact]
    public async Task Each_user_has_their_own_limit()
    {
        for (var i = 0; i < Limit; i++)
        {
            await Api.ChargeAsync(1, 100);
        }

        await ApiServer.ExpectProblemAsync(
            await Api.User(1).PostJsonAsync("/users/1/balance/charge", new { amount = 100 }), HttpStatusCode.TooManyRequests, "TooManyRequests");

        await Api.ChargeAsync(2, 100);
        for (var i = 0; i < Limit; i++)
        {
            await ApiServer.ExpectAsync(
                await Api.Admin.PostJsonAsync("/products", new { id = i + 1, name = "Tea", price = 10, stock = 1 }), HttpStatusCode.Created);
        }

        Assert.Equal(100, await Api.BalanceAsync(2));
    }

    [Fact]
    public async Task Requests_refused_for_want_of_a_token_do_not_use_up_anyones_limit()
    {
        for (var i = 0; i < 2 * Limit; i++)
        {
            await ApiServer.ExpectProblemAsync(
                await Api.Anonymous.PostJsonAsync("/users/1/balance/charge", new { amount = 100 }), HttpStatusCode.Unauthorized, "Unauthorized");
        }

        for (var i = 0; i < Limit; i++)
        {
            await Api.ChargeAsync(1, 100);
        }

        Assert.Equal(Limit * 100, await Api.BalanceAsync(1));
    }

    [Fact]
    public async Task Retry_after_is_the_time_left_in_the_callers_window_rounded_up_to_whole_seconds()
    {
        // The windows count on the server's clock, a fake one here: nothing depends on how fast the test runs.
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        await using var server = await ApiServer.StartWithClockAsync(
            clock, "--RateLimiting:Writes:PermitLimit=2", "--RateLimiting:Writes:Window=00:10:00");
        await server.ChargeAsync(1, 100); // opens user 1's window
        clock.Advance(TimeSpan.FromMinutes(4));
        await server.ChargeAsync(1, 100);

        Assert.Equal(360, await RefusedRetryAfterAsync(server, 1)); // 6 minutes left, not the window's 10
        clock.Advance(TimeSpan.FromMinutes(6) - TimeSpan.FromMilliseconds(1500));
        Assert.Equal(2, await RefusedRetryAfterAsync(server, 1)); // 1.5 s left, rounded up
        clock.Advance(TimeSpan.FromMilliseconds(1499));
        Assert.Equal(1, await RefusedRetryAfterAsync(server, 1)); // 1 ms left: never 0

        // The window is over: the next write opens a new one, with the whole window left.
        clock.Advance(TimeSpan.FromMilliseconds(1));
        await server.ChargeAsync(1, 100);
        clock.Advance(TimeSpan.FromSeconds(1));
        await server.ChargeAsync(1, 100);
        Assert.Equal(599, await RefusedRetryAfterAsync(server, 1));
        Assert.Equal(400, await server.BalanceAsync(1));
    }

    /// <summary>Sends one more charge as <paramref name="user"/>, expects it refused, and returns its <c>Retry-After</c>.</summary>
    private static async Task<int> RefusedRetryAfterAsync(ApiServer server, long user)
    {
        var refused = await server.User(user).PostJsonAsync($"/users/{user}/balance/charge", new { amount = 100 });
        var problem = await ApiServer.ExpectProblemAsync(refused, HttpStatusCode.TooManyRequests, "TooManyRequests");
        var seconds = int.Parse(Assert.Single(refused.Headers.GetValues("Retry-After")), CultureInfo.InvariantCulture);
        Assert.Contains($"Retry after {seconds} seconds.", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        return seconds;
    }

    [Theory]
    [InlineData("--RateLimiting:Writes:PermitLimit=0")]
    [InlineData("--RateLimiting:Writes:Window=00:00:00")]
    public void A_limit_that_allows_nothing_is_refused_at_start(string setting)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Program.CreateApp(["--urls", "http://127.0.0.1:0", setting]));
        Assert.Contains("RateLimiting:Writes", error.Message, StringComparison.Ordinal);
    }
}
