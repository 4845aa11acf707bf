using System.Net;

namespace Commerce.Samples.WebApi.Tests;

public sealed class WalletEndpointsTests : ApiTest
{
    [Fact]
    public async Task Charging_returns_the_new_balance_and_reading_the_balance_agrees()
    {
        var charged = await Api.User(1).PostJsonAsync("/users/1/balance/charge", new { amount = 1000 });
        Assert.Equal(HttpStatusCode.OK, charged.StatusCode);
        Assert.Equal("""{"userId":1,"balance":1000}""", await charged.Content.ReadAsStringAsync());

        await Api.ChargeAsync(1, 500);
        var balance = await Api.User(1).GetAsync("/users/1/balance");
        Assert.Equal(HttpStatusCode.OK, balance.StatusCode);
        Assert.Equal("""{"userId":1,"balance":1500}""", await balance.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_user_never_charged_has_a_zero_balance()
    {
        var balance = await Api.User(42).GetJsonAsync("/users/42/balance");
        Assert.Equal(42, balance.GetProperty("userId").GetInt64());
        Assert.Equal(0, balance.GetProperty("balance").GetInt64());
    }

    [Theory]
    [InlineData(0, "InvalidAmount")]
    [InlineData(-5, "InvalidAmount")]
    [InlineData(10_000_001, "ChargeLimitExceeded")]
    public async Task A_bad_amount_is_refused_with_400_and_changes_nothing(long amount, string code)
    {
        await Api.ChargeAsync(1, 100);
        var response = await Api.User(1).PostJsonAsync("/users/1/balance/charge", new { amount });
        var problem = await ApiServer.ExpectProblemAsync(response, HttpStatusCode.BadRequest, code);
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
        Assert.Equal(100, await Api.BalanceAsync(1));
    }

    [Fact]
    public async Task A_charge_past_the_maximum_balance_is_a_409_BalanceLimitExceeded()
    {
        // Default limits: 10,000,000 a charge, 1,000,000,000 a balance.
        for (var i = 0; i < 100; i++)
        {
            await Api.ChargeAsync(7, 10_000_000);
        }

        var response = await Api.User(7).PostJsonAsync("/users/7/balance/charge", new { amount = 1 });
        await ApiServer.ExpectProblemAsync(response, HttpStatusCode.Conflict, "BalanceLimitExceeded");
        Assert.Equal(1_000_000_000, await Api.BalanceAsync(7));
    }

    [Theory]
    [InlineData("""{"amount":""")]
    [InlineData("""{"amount":"1000"}""")]
    [InlineData("""{"amount":12.5}""")]
    [InlineData("""{"amount":99999999999999999999}""")]
    [InlineData("""[1000]""")]
    [InlineData("")]
    [InlineData("null")]
    public async Task A_malformed_or_missing_body_is_a_400_InvalidRequest(string body)
    {
        var response = await Api.User(1).PostRawAsync("/users/1/balance/charge", body);
        await ApiServer.ExpectProblemAsync(response, HttpStatusCode.BadRequest, "InvalidRequest");
        Assert.Equal(0, await Api.BalanceAsync(1));
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_a_415()
    {
        var response = await Api.User(1).PostRawAsync("/users/1/balance/charge", "amount=1000", "application/x-www-form-urlencoded");
        await ApiServer.ExpectProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "UnsupportedMediaType");
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("1.5")]
    [InlineData("99999999999999999999")]
    public async Task A_non_numeric_user_id_is_a_400_InvalidRequest(string userId)
    {
        await ApiServer.ExpectProblemAsync(
            await Api.User(1).PostJsonAsync($"/users/{userId}/balance/charge", new { amount = 10 }), HttpStatusCode.BadRequest, "InvalidRequest");
        await ApiServer.ExpectProblemAsync(
            await Client.GetAsync(new Uri($"/users/{userId}/balance", UriKind.Relative)), HttpStatusCode.BadRequest, "InvalidRequest");
    }
}
