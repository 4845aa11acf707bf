using System.Net;
using System.Text.Json;

namespace Commerce.Samples.WebApi.Tests;

public sealed class LedgerEndpointTests : ApiTest
{
    [Fact]
    public async Task A_charge_is_an_entry_with_its_sequence_kind_amount_and_balance()
    {
        await Api.ChargeAsync(1, 1000);

        var entry = Assert.Single((await Api.User(1).GetJsonAsync("/users/1/ledger")).EnumerateArray());
        Assert.Equal(
            ["sequence", "kind", "amount", "balanceAfter", "orderId", "at"],
            entry.EnumerateObject().Select(p => p.Name));
        Assert.Equal(1, entry.GetProperty("sequence").GetInt64());
        Assert.Equal("Charge", entry.GetProperty("kind").GetString());
        Assert.Equal(1000, entry.GetProperty("amount").GetInt64());
        Assert.Equal(1000, entry.GetProperty("balanceAfter").GetInt64());
        Assert.Equal(JsonValueKind.Null, entry.GetProperty("orderId").ValueKind);
        Assert.True(entry.GetProperty("at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
    }

    [Fact]
    public async Task Charges_payments_and_refunds_are_numbered_in_order_and_sum_to_the_balance()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await Api.ChargeAsync(1, 10_000);
        var order = await Api.PlaceOrderAsync(1, 1, 2);
        var id = order.GetProperty("id").GetGuid();
        await ApiServer.ExpectAsync(await Api.User(1).PostAsync($"/orders/{id}/cancel"), HttpStatusCode.OK);
        await Api.ChargeAsync(1, 5);

        var entries = (await Api.User(1).GetJsonAsync("/users/1/ledger")).EnumerateArray().ToArray();
        Assert.Equal(new long[] { 1, 2, 3, 4 }, entries.Select(e => e.GetProperty("sequence").GetInt64()));
        Assert.Equal(new[] { "Charge", "Payment", "Refund", "Charge" }, entries.Select(e => e.GetProperty("kind").GetString()));
        Assert.Equal(new long[] { 10_000, 6000, 6000, 5 }, entries.Select(e => e.GetProperty("amount").GetInt64()));
        Assert.Equal(new long[] { 10_000, 4000, 10_000, 10_005 }, entries.Select(e => e.GetProperty("balanceAfter").GetInt64()));
        Assert.Equal(id, entries[1].GetProperty("orderId").GetGuid());
        Assert.Equal(id, entries[2].GetProperty("orderId").GetGuid());
        Assert.Equal(await Api.BalanceAsync(1), entries[^1].GetProperty("balanceAfter").GetInt64());
    }

    [Fact]
    public async Task Pages_follow_one_another_by_the_last_sequence()
    {
        for (var amount = 1; amount <= 7; amount++)
        {
            await Api.ChargeAsync(1, amount);
        }

        async Task<long[]> SequencesAsync(string query) =>
            [.. (await Api.User(1).GetJsonAsync($"/users/1/ledger?{query}")).EnumerateArray().Select(e => e.GetProperty("sequence").GetInt64())];

        Assert.Equal(new long[] { 1, 2, 3 }, await SequencesAsync("limit=3"));
        Assert.Equal(new long[] { 4, 5, 6 }, await SequencesAsync("after=3&limit=3"));
        Assert.Equal(new long[] { 7 }, await SequencesAsync("after=6&limit=3"));
        Assert.Empty(await SequencesAsync("after=7&limit=3"));
        Assert.Equal(new long[] { 1, 2, 3, 4, 5, 6, 7 }, await SequencesAsync("after=0"));
        Assert.Equal(new long[] { 7 }, await SequencesAsync("after=6&limit=1000"));
    }

    [Fact]
    public async Task A_user_never_charged_has_an_empty_ledger()
    {
        Assert.Equal("[]", (await Api.User(5).GetJsonAsync("/users/5/ledger")).GetRawText());
    }

    [Theory]
    [InlineData("9223372036854775807")]
    [InlineData("9223372036854775000")]
    public async Task An_after_beyond_any_ledger_is_an_empty_page(string after)
    {
        await Api.ChargeAsync(1, 10);
        Assert.Equal("[]", (await Api.User(1).GetJsonAsync($"/users/1/ledger?after={after}")).GetRawText());
        Assert.Equal("[]", (await Api.User(1).GetJsonAsync($"/users/1/ledger?after={after}&limit=1000")).GetRawText());
    }

    [Theory]
    [InlineData("after=-1")]
    [InlineData("after=-9223372036854775808")]
    [InlineData("after=x")]
    [InlineData("after=1.5")]
    [InlineData("after=99999999999999999999")]
    [InlineData("limit=0")]
    [InlineData("limit=-5")]
    [InlineData("limit=1001")]
    [InlineData("limit=2147483647")]
    [InlineData("limit=ten")]
    public async Task A_bad_ledger_query_is_a_400_InvalidRequest(string query)
    {
        await Api.ChargeAsync(1, 10);
        var problem = await ApiServer.ExpectProblemAsync(
            await Api.User(1).GetAsync($"/users/1/ledger?{query}"), HttpStatusCode.BadRequest, "InvalidRequest");
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
    }

    [Fact]
    public async Task A_non_numeric_user_id_is_a_400_InvalidRequest()
    {
        await ApiServer.ExpectProblemAsync(
            await Client.GetAsync(new Uri("/users/abc/ledger", UriKind.Relative)), HttpStatusCode.BadRequest, "InvalidRequest");
        await ApiServer.ExpectProblemAsync(
            await Client.GetAsync(new Uri("/users/abc/orders", UriKind.Relative)), HttpStatusCode.BadRequest, "InvalidRequest");
        await ApiServer.ExpectProblemAsync(await Api.User(1).PostAsync("/users/abc/cart/checkout"), HttpStatusCode.BadRequest, "InvalidRequest");
    }
}
