using System.Net;
using System.Security.Cryptography;

namespace Commerce.Samples.WebApi.Tests;

/// <summary>Who may call what: 401 without a valid token, 403 for someone else's wallet, cart, ledger or orders.</summary>
public sealed class AuthorizationTests : ApiTest
{
    /// <summary>Every route that needs a token, with a body it would accept.</summary>
    public static TheoryData<string, string, string?> ProtectedRoutes() => new()
    {
        { "POST", "/users/1/balance/charge", """{"amount":100}""" },
        { "GET", "/users/1/balance", null },
        { "GET", "/users/1/ledger", null },
        { "GET", "/users/1/orders", null },
        { "GET", "/users/1/cart", null },
        { "POST", "/users/1/cart/items", """{"productId":1,"quantity":1}""" },
        { "DELETE", "/users/1/cart/items/1", null },
        { "POST", "/users/1/cart/checkout", null },
        { "POST", "/orders", """{"userId":1,"items":[{"productId":1,"quantity":1}]}""" },
        { "GET", "/orders/01a23a7b-48b4-73e9-ad64-97c0cd425eb6", null },
        { "POST", "/orders/01a23a7b-48b4-73e9-ad64-97c0cd425eb6/cancel", null },
        { "POST", "/products", """{"id":9,"name":"Lamp","price":100,"stock":1}""" },
        { "POST", "/products/1/restock", """{"quantity":1}""" },
    };

    /// <summary>The routes of user 1's own resources, which user 2 may not use.</summary>
    public static TheoryData<string, string, string?> UserOnesRoutes()
    {
        var data = new TheoryData<string, string, string?>();
        foreach (var row in ProtectedRoutes())
        {
            var (method, path, body) = ((string)row[0], (string)row[1], (string?)row[2]);
            if (path.StartsWith("/users/1/", StringComparison.Ordinal))
            {
                data.Add(method, path, body);
            }
        }

        return data;
    }

    private static async Task<HttpResponseMessage> SendAsync(ApiClient client, string method, string path, string? body)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));
        if (body is not null)
        {
            request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        }

        return await client.Http.SendAsync(request);
    }

    private async Task SeedAsync()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await Api.ChargeAsync(1, 100_000);
        await Api.ChargeAsync(2, 100_000);
    }

    [Theory]
    [MemberData(nameof(ProtectedRoutes))]
    public async Task Without_a_token_every_protected_route_is_a_401_problem_with_a_bearer_challenge(string method, string path, string? body)
    {
        await SeedAsync();
        var response = await SendAsync(Api.Anonymous, method, path, body);

        var problem = await ApiServer.ExpectProblemAsync(response, HttpStatusCode.Unauthorized, "Unauthorized");
        Assert.Contains(response.Headers.WwwAuthenticate, h => h.Scheme == "Bearer");
        Assert.Contains("bearer token", problem.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(100_000, await Api.BalanceAsync(1));
        Assert.Equal(10, await Api.StockAsync(1));
    }

    public static TheoryData<string> BadTokens() => new()
    {
        "expired",
        "not yet valid",
        "signed with another key",
        "from another issuer",
        "for another audience",
        "unsigned garbage",
    };

    private static string BadToken(string kind) => kind switch
    {
        "expired" => TestTokens.Create("1", notBefore: DateTime.UtcNow.AddHours(-3), expires: DateTime.UtcNow.AddHours(-2)),
        "not yet valid" => TestTokens.Create("1", notBefore: DateTime.UtcNow.AddHours(2), expires: DateTime.UtcNow.AddHours(3)),
        "signed with another key" => TestTokens.Create("1", signingKey: RandomNumberGenerator.GetBytes(32)),
        "from another issuer" => TestTokens.Create("1", issuer: "someone-else"),
        "for another audience" => TestTokens.Create("1", audience: "another-api"),
        _ => "not.a.token",
    };

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task A_token_that_is_not_valid_is_a_401_and_changes_nothing(string kind)
    {
        var client = Api.WithToken(BadToken(kind));

        await ApiServer.ExpectProblemAsync(
            await client.PostJsonAsync("/users/1/balance/charge", new { amount = 100 }), HttpStatusCode.Unauthorized, "Unauthorized");
        await ApiServer.ExpectProblemAsync(await client.GetAsync("/users/1/balance"), HttpStatusCode.Unauthorized, "Unauthorized");
        Assert.Equal(0, await Api.BalanceAsync(1));
    }

    [Theory]
    [MemberData(nameof(UserOnesRoutes))]
    public async Task Another_users_wallet_ledger_cart_and_order_list_are_403_and_change_nothing(string method, string path, string? body)
    {
        await SeedAsync();
        await ApiServer.ExpectAsync(await Api.User(1).PostJsonAsync("/users/1/cart/items", new { productId = 1, quantity = 2 }), HttpStatusCode.OK);

        var problem = await ApiServer.ExpectProblemAsync(await SendAsync(Api.User(2), method, path, body), HttpStatusCode.Forbidden, "Forbidden");

        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
        Assert.Equal(100_000, await Api.BalanceAsync(1));
        Assert.Equal(100_000, await Api.BalanceAsync(2));
        Assert.Equal(2, (await Api.User(1).GetJsonAsync("/users/1/cart")).GetProperty("lines")[0].GetProperty("quantity").GetInt32());
        Assert.Equal(0, (await Api.User(1).GetJsonAsync("/users/1/orders")).GetArrayLength());
    }

    [Fact]
    public async Task Another_users_order_can_be_neither_read_nor_cancelled()
    {
        await SeedAsync();
        var id = (await Api.PlaceOrderAsync(1, 1, 2)).GetProperty("id").GetGuid();

        await ApiServer.ExpectProblemAsync(await Api.User(2).GetAsync($"/orders/{id}"), HttpStatusCode.Forbidden, "Forbidden");
        await ApiServer.ExpectProblemAsync(await Api.User(2).PostAsync($"/orders/{id}/cancel"), HttpStatusCode.Forbidden, "Forbidden");

        Assert.Equal("Placed", (await Api.User(1).GetJsonAsync($"/orders/{id}")).GetProperty("status").GetString());
        Assert.Equal(100_000 - 6000, await Api.BalanceAsync(1));
        Assert.Equal(100_000, await Api.BalanceAsync(2));
        Assert.Equal(8, await Api.StockAsync(1));
    }

    [Fact]
    public async Task An_order_for_another_user_is_403_and_one_without_a_user_id_is_the_callers()
    {
        await SeedAsync();

        await ApiServer.ExpectProblemAsync(
            await Api.User(2).PostJsonAsync("/orders", new { userId = 1, items = new[] { new { productId = 1, quantity = 1 } } }),
            HttpStatusCode.Forbidden,
            "Forbidden");
        Assert.Equal(100_000, await Api.BalanceAsync(1));

        var order = await ApiServer.ExpectAsync(
            await Api.User(2).PostJsonAsync("/orders", new { items = new[] { new { productId = 1, quantity = 1 } } }), HttpStatusCode.Created);
        Assert.Equal(2, order.GetProperty("userId").GetInt64());
        Assert.Equal(100_000 - 3000, await Api.BalanceAsync(2));
        Assert.Equal(100_000, await Api.BalanceAsync(1));
    }

    [Fact]
    public async Task A_customer_may_not_add_or_restock_products()
    {
        await SeedAsync();

        await ApiServer.ExpectProblemAsync(
            await Api.User(1).PostJsonAsync("/products", new { id = 2, name = "Mouse", price = 1500, stock = 5 }), HttpStatusCode.Forbidden, "Forbidden");
        await ApiServer.ExpectProblemAsync(
            await Api.User(1).PostJsonAsync("/products/1/restock", new { quantity = 5 }), HttpStatusCode.Forbidden, "Forbidden");

        Assert.Equal(1, (await Api.GetJsonAsync("/products")).GetArrayLength());
        Assert.Equal(10, await Api.StockAsync(1));
    }

    [Fact]
    public async Task The_catalog_admin_adds_and_restocks_products_but_is_no_customer()
    {
        await ApiServer.ExpectAsync(
            await Api.Admin.PostJsonAsync("/products", new { id = 5, name = "Webcam", price = 4500, stock = 8 }), HttpStatusCode.Created);
        var restocked = await ApiServer.ExpectAsync(await Api.Admin.PostJsonAsync("/products/5/restock", new { quantity = 2 }), HttpStatusCode.OK);
        Assert.Equal(10, restocked.GetProperty("stock").GetInt32());

        // The administrator's token names no customer: no wallet, cart or orders of its own.
        await ApiServer.ExpectProblemAsync(
            await Api.Admin.PostJsonAsync("/users/1/balance/charge", new { amount = 100 }), HttpStatusCode.Forbidden, "Forbidden");
        await ApiServer.ExpectProblemAsync(
            await Api.Admin.PostJsonAsync("/orders", new { userId = 1, items = new[] { new { productId = 5, quantity = 1 } } }),
            HttpStatusCode.Forbidden,
            "Forbidden");
        Assert.Equal(10, await Api.StockAsync(5));
    }

    [Fact]
    public async Task A_customer_who_is_also_catalog_admin_may_do_both()
    {
        var both = Api.WithToken(TestTokens.Create("4", roles: [TestTokens.CatalogAdminRole]));

        await ApiServer.ExpectAsync(await both.PostJsonAsync("/products", new { id = 1, name = "Tea", price = 300, stock = 3 }), HttpStatusCode.Created);
        await ApiServer.ExpectAsync(await both.PostJsonAsync("/users/4/balance/charge", new { amount = 1000 }), HttpStatusCode.OK);
        await ApiServer.ExpectAsync(await both.PostJsonAsync("/orders", new { items = new[] { new { productId = 1, quantity = 1 } } }), HttpStatusCode.Created);
        Assert.Equal(700, await Api.BalanceAsync(4));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("alice")]
    [InlineData(null)]
    public async Task A_token_whose_subject_is_not_a_positive_user_id_is_no_customer(string? subject)
    {
        var client = Api.WithToken(TestTokens.Create(subject));
        await ApiServer.ExpectProblemAsync(
            await client.PostJsonAsync("/orders", new { items = new[] { new { productId = 1, quantity = 1 } } }), HttpStatusCode.Forbidden, "Forbidden");
        await ApiServer.ExpectProblemAsync(await client.GetAsync("/users/1/balance"), HttpStatusCode.Forbidden, "Forbidden");
    }

    [Fact]
    public async Task Reading_the_catalog_and_the_ranking_needs_no_token()
    {
        await SeedAsync();
        await Api.PlaceOrderAsync(1, 1, 1);

        Assert.Equal(1, (await Api.GetJsonAsync("/products")).GetArrayLength());
        Assert.Equal("Keyboard", (await Api.GetJsonAsync("/products/1")).GetProperty("name").GetString());
        Assert.Equal(1, (await Api.GetJsonAsync("/products/popular")).GetArrayLength());
    }
}
