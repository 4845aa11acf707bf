using System.Net;

namespace Commerce.Samples.WebApi.Tests;

public sealed class IdempotencyKeyTests : ApiTest
{
    private async Task SeedAsync()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await Api.AddProductAsync(2, "Cable", 10, 100);
        await Api.ChargeAsync(1, 100_000);
    }

    private static object OneKeyboard(long user = 1) => new { userId = user, items = new[] { new { productId = 1, quantity = 1 } } };

    [Theory]
    [InlineData("/users/1/balance/charge", """{"amount":1000}""")]
    [InlineData("/orders", """{"userId":1,"items":[{"productId":1,"quantity":1}]}""")]
    [InlineData("/users/1/cart/checkout", "")]
    public async Task A_key_header_sent_twice_is_refused_and_changes_nothing(string path, string body)
    {
        await SeedAsync();
        await ApiServer.ExpectAsync(await Api.User(1).PostJsonAsync("/users/1/cart/items", new { productId = 1, quantity = 1 }), HttpStatusCode.OK);

        // Two header lines, as HttpClient never sends them (it joins values into one line): bound as one
        // string, they would have made the key "a,b".
        var (status, answer) = await RawPostAsync(path, body, TestTokens.ForUser(1), "Idempotency-Key: a", "Idempotency-Key: b");

        Assert.Equal(400, status);
        Assert.Contains("\"code\":\"InvalidIdempotencyKey\"", answer, StringComparison.Ordinal);
        Assert.Equal(100_000, await Api.BalanceAsync(1));
        Assert.Equal(10, await Api.StockAsync(1));
    }

    /// <summary>POSTs over a plain socket, headers written exactly as given; returns the status and the whole answer.</summary>
    private async Task<(int Status, string Answer)> RawPostAsync(string path, string body, string token, params string[] headers)
    {
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(Api.Address.Host, Api.Address.Port);
        await using var stream = client.GetStream();
        var content = System.Text.Encoding.UTF8.GetBytes(body);
        var head = $"POST {path} HTTP/1.1\r\nHost: {Api.Address.Authority}\r\nAuthorization: Bearer {token}\r\n"
            + (content.Length > 0 ? "Content-Type: application/json\r\n" : string.Empty)
            + $"Content-Length: {content.Length}\r\nConnection: close\r\n"
            + string.Concat(headers.Select(h => h + "\r\n")) + "\r\n";
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(content);
        using var reader = new StreamReader(stream, System.Text.Encoding.UTF8);
        var answer = await reader.ReadToEndAsync();
        return (int.Parse(answer.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), answer);
    }

    [Fact]
    public async Task A_retried_charge_with_the_same_key_is_applied_once_and_answered_the_same()
    {
        await Api.ChargeAsync(1, 500);

        var first = await Api.User(1).PostWithKeyAsync("/users/1/balance/charge", new { amount = 1000 }, "charge-0001");
        var retry = await Api.User(1).PostWithKeyAsync("/users/1/balance/charge", new { amount = 1000 }, "charge-0001");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal("""{"userId":1,"balance":1500}""", await first.Content.ReadAsStringAsync());
        Assert.Equal("""{"userId":1,"balance":1500}""", await retry.Content.ReadAsStringAsync());
        Assert.Equal(1500, await Api.BalanceAsync(1));
        Assert.Equal(2, (await Api.User(1).GetJsonAsync("/users/1/ledger")).GetArrayLength());
    }

    [Fact]
    public async Task A_retry_answers_with_the_first_balance_even_after_other_charges()
    {
        await ApiServer.ExpectAsync(await Api.User(1).PostWithKeyAsync("/users/1/balance/charge", new { amount = 1000 }, "k"), HttpStatusCode.OK);
        await Api.ChargeAsync(1, 1);

        var retry = await Api.User(1).PostWithKeyAsync("/users/1/balance/charge", new { amount = 1000 }, "k");
        Assert.Equal("""{"userId":1,"balance":1000}""", await retry.Content.ReadAsStringAsync());
        Assert.Equal(1001, await Api.BalanceAsync(1));
    }

    [Fact]
    public async Task Reusing_a_charge_key_for_another_amount_is_a_409_IdempotencyKeyReused_and_changes_nothing()
    {
        await ApiServer.ExpectAsync(await Api.User(1).PostWithKeyAsync("/users/1/balance/charge", new { amount = 1000 }, "k"), HttpStatusCode.OK);

        var problem = await ApiServer.ExpectProblemAsync(
            await Api.User(1).PostWithKeyAsync("/users/1/balance/charge", new { amount = 2000 }, "k"), HttpStatusCode.Conflict, "IdempotencyKeyReused");
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
        Assert.Equal(1000, await Api.BalanceAsync(1));
    }

    [Fact]
    public async Task A_key_is_scoped_to_its_user_and_to_its_kind_of_request()
    {
        await SeedAsync();
        await ApiServer.ExpectAsync(await Api.User(2).PostWithKeyAsync("/users/2/balance/charge", new { amount = 5000 }, "shared"), HttpStatusCode.OK);
        await ApiServer.ExpectAsync(await Api.User(3).PostWithKeyAsync("/users/3/balance/charge", new { amount = 7000 }, "shared"), HttpStatusCode.OK);
        await ApiServer.ExpectAsync(await Api.User(2).PostWithKeyAsync("/orders", OneKeyboard(user: 2), "shared"), HttpStatusCode.Created);

        Assert.Equal(2000, await Api.BalanceAsync(2));
        Assert.Equal(7000, await Api.BalanceAsync(3));
    }

    [Fact]
    public async Task Without_the_header_every_charge_is_applied()
    {
        await Api.ChargeAsync(1, 1000);
        await Api.ChargeAsync(1, 1000);
        Assert.Equal(2000, await Api.BalanceAsync(1));
    }

    public static TheoryData<string, string> InvalidKeys()
    {
        var data = new TheoryData<string, string>();
        foreach (var path in new[] { "/users/1/balance/charge", "/orders", "/users/1/cart/checkout" })
        {
            data.Add(path, "");                                        // present but empty
            data.Add(path, new string('k', 129));                     // one character too long
            data.Add(path, "tab\tinside");                             // not printable
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(InvalidKeys))]
    public async Task An_invalid_key_is_a_400_InvalidIdempotencyKey_and_changes_nothing(string path, string key)
    {
        await SeedAsync();
        await ApiServer.ExpectAsync(await Api.User(1).PostJsonAsync("/users/1/cart/items", new { productId = 1, quantity = 1 }), HttpStatusCode.OK);
        object? body = path switch
        {
            "/orders" => OneKeyboard(),
            "/users/1/cart/checkout" => null,
            _ => new { amount = 1000 },
        };

        await ApiServer.ExpectProblemAsync(await Api.User(1).PostWithKeyAsync(path, body, key), HttpStatusCode.BadRequest, "InvalidIdempotencyKey");

        Assert.Equal(100_000, await Api.BalanceAsync(1));
        Assert.Equal(10, await Api.StockAsync(1));
        Assert.Equal(1, (await Api.User(1).GetJsonAsync("/users/1/cart")).GetProperty("lines").GetArrayLength());
        Assert.Equal(0, (await Api.User(1).GetJsonAsync("/users/1/orders")).GetArrayLength());
    }

    [Fact]
    public async Task A_key_of_128_printable_characters_is_accepted()
    {
        var key = string.Concat(Enumerable.Repeat("Ab0 ~!", 22))[..128];
        await ApiServer.ExpectAsync(await Api.User(1).PostWithKeyAsync("/users/1/balance/charge", new { amount = 10 }, key), HttpStatusCode.OK);
        await ApiServer.ExpectAsync(await Api.User(1).PostWithKeyAsync("/users/1/balance/charge", new { amount = 10 }, key), HttpStatusCode.OK);
        Assert.Equal(10, await Api.BalanceAsync(1));
    }

    [Fact]
    public async Task A_retried_order_with_the_same_key_is_placed_once_and_answered_the_same()
    {
        await SeedAsync();
        var first = await Api.User(1).PostWithKeyAsync("/orders", OneKeyboard(), "order-1");
        var retry = await Api.User(1).PostWithKeyAsync("/orders", OneKeyboard(), "order-1");

        var order = await ApiServer.ExpectAsync(first, HttpStatusCode.Created);
        var replayed = await ApiServer.ExpectAsync(retry, HttpStatusCode.Created);
        Assert.Equal(order.GetRawText(), replayed.GetRawText());
        Assert.Equal(first.Headers.Location, retry.Headers.Location);
        Assert.Equal(100_000 - 3000, await Api.BalanceAsync(1));
        Assert.Equal(9, await Api.StockAsync(1));
        Assert.Equal(1, (await Api.User(1).GetJsonAsync("/users/1/orders")).GetArrayLength());
    }

    [Fact]
    public async Task Reusing_an_order_key_for_other_lines_is_a_409_IdempotencyKeyReused_and_changes_nothing()
    {
        await SeedAsync();
        await ApiServer.ExpectAsync(await Api.User(1).PostWithKeyAsync("/orders", OneKeyboard(), "order-1"), HttpStatusCode.Created);

        await ApiServer.ExpectProblemAsync(
            await Api.User(1).PostWithKeyAsync("/orders", new { userId = 1, items = new[] { new { productId = 1, quantity = 2 } } }, "order-1"),
            HttpStatusCode.Conflict,
            "IdempotencyKeyReused");
        Assert.Equal(100_000 - 3000, await Api.BalanceAsync(1));
        Assert.Equal(9, await Api.StockAsync(1));
    }

    [Fact]
    public async Task The_same_lines_split_differently_are_the_same_request()
    {
        await SeedAsync();
        await ApiServer.ExpectAsync(
            await Api.User(1).PostWithKeyAsync("/orders", new { userId = 1, items = new[] { new { productId = 2, quantity = 5 } } }, "k"),
            HttpStatusCode.Created);
        await ApiServer.ExpectAsync(
            await Api.User(1).PostWithKeyAsync("/orders", new { userId = 1, items = new[] { new { productId = 2, quantity = 2 }, new { productId = 2, quantity = 3 } } }, "k"),
            HttpStatusCode.Created);
        Assert.Equal(95, await Api.StockAsync(2));
    }

    [Fact]
    public async Task A_refused_keyed_order_is_answered_with_the_same_refusal_on_retry()
    {
        await SeedAsync();
        var order = new { userId = 2, items = new[] { new { productId = 1, quantity = 1 } } };
        await ApiServer.ExpectProblemAsync(await Api.User(2).PostWithKeyAsync("/orders", order, "k"), HttpStatusCode.Conflict, "InsufficientBalance");

        // The refusal was stored with the key: the same request gets it again, even though it would now succeed.
        await Api.ChargeAsync(2, 5000);
        await ApiServer.ExpectProblemAsync(await Api.User(2).PostWithKeyAsync("/orders", order, "k"), HttpStatusCode.Conflict, "InsufficientBalance");
        Assert.Equal(5000, await Api.BalanceAsync(2));

        // A new key is a new request.
        await ApiServer.ExpectAsync(await Api.User(2).PostWithKeyAsync("/orders", order, "k2"), HttpStatusCode.Created);
    }

    [Fact]
    public async Task A_retry_after_a_cancel_answers_with_the_order_as_it_stands_now()
    {
        await SeedAsync();
        var order = await ApiServer.ExpectAsync(await Api.User(1).PostWithKeyAsync("/orders", OneKeyboard(), "k"), HttpStatusCode.Created);
        var id = order.GetProperty("id").GetGuid();
        await ApiServer.ExpectAsync(await Api.User(1).PostAsync($"/orders/{id}/cancel"), HttpStatusCode.OK);

        var replayed = await ApiServer.ExpectAsync(await Api.User(1).PostWithKeyAsync("/orders", OneKeyboard(), "k"), HttpStatusCode.Created);
        Assert.Equal(id, replayed.GetProperty("id").GetGuid());
        Assert.Equal("Cancelled", replayed.GetProperty("status").GetString());
        Assert.Equal(100_000, await Api.BalanceAsync(1));
        Assert.Equal(10, await Api.StockAsync(1));
    }

    [Fact]
    public async Task A_retried_checkout_with_the_same_key_places_one_order()
    {
        await SeedAsync();
        await ApiServer.ExpectAsync(await Api.User(1).PostJsonAsync("/users/1/cart/items", new { productId = 2, quantity = 4 }), HttpStatusCode.OK);

        var first = await ApiServer.ExpectAsync(await Api.User(1).PostWithKeyAsync("/users/1/cart/checkout", null, "checkout-1"), HttpStatusCode.Created);
        await ApiServer.ExpectAsync(await Api.User(1).PostJsonAsync("/users/1/cart/items", new { productId = 2, quantity = 1 }), HttpStatusCode.OK);
        var retry = await ApiServer.ExpectAsync(await Api.User(1).PostWithKeyAsync("/users/1/cart/checkout", null, "checkout-1"), HttpStatusCode.Created);

        Assert.Equal(first.GetRawText(), retry.GetRawText());
        Assert.Equal(100_000 - 40, await Api.BalanceAsync(1));
        Assert.Equal(96, await Api.StockAsync(2));

        // The retry left the line added since in the cart.
        var cart = await Api.User(1).GetJsonAsync("/users/1/cart");
        Assert.Equal("""[{"productId":2,"name":"Cable","unitPrice":10,"quantity":1,"lineTotal":10}]""", cart.GetProperty("lines").GetRawText());
    }

    /// <summary>
    /// The writes that take no key, each with a body (or none), the caller, and what a repeat of it does, which the
    /// refusal tells the client instead of the key's replay it asked for.
    /// </summary>
    public static TheoryData<string, string, string?, string, string> WritesWithoutKeys() => new()
    {
        { "POST", "/products", """{"id":3,"name":"Mouse","price":500,"stock":5}""", "admin", "a 409 ProductAlreadyExists" },
        { "POST", "/products/1/restock", """{"quantity":5}""", "admin", "restocks again" },
        { "POST", "/orders/{order}/cancel", null, "user", "a 409 OrderAlreadyCancelled" },
        { "POST", "/users/1/cart/items", """{"productId":2,"quantity":1}""", "user", "adds the quantity again" },
        { "DELETE", "/users/1/cart/items/1", null, "user", "a 404 CartItemNotFound" },
    };

    [Theory]
    [MemberData(nameof(WritesWithoutKeys))]
    public async Task A_write_that_takes_no_key_refuses_one_with_a_400_that_says_what_a_repeat_does(
        string method, string path, string? body, string caller, string repeat)
    {
        // A client that sends the header asks for its retry to be answered as the first request was, without running
        // again. A write that keeps no key cannot do that (a restock or a cart line's addition would run twice), so the
        // key is refused rather than ignored, and nothing changes.
        await SeedAsync();
        var order = (await Api.PlaceOrderAsync(1, 1, 1)).GetProperty("id").GetString()!;
        await ApiServer.ExpectAsync(await Api.User(1).PostJsonAsync("/users/1/cart/items", new { productId = 1, quantity = 1 }), HttpStatusCode.OK);
        var client = caller == "admin" ? Api.Admin : Api.User(1);

        foreach (var key in new[] { "retry-1", "" })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path.Replace("{order}", order, StringComparison.Ordinal), UriKind.Relative));
            if (body is not null)
            {
                request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
            }

            Assert.True(request.Headers.TryAddWithoutValidation("Idempotency-Key", key));
            var problem = await ApiServer.ExpectProblemAsync(await client.Http.SendAsync(request), HttpStatusCode.BadRequest, "InvalidRequest");
            var detail = problem.GetProperty("detail").GetString();
            Assert.StartsWith("This request takes no Idempotency-Key (only a charge, an order and a checkout do): sent again, it ", detail, StringComparison.Ordinal);
            Assert.Contains(repeat, detail, StringComparison.Ordinal);
        }

        Assert.Equal(2, (await Api.GetJsonAsync("/products")).GetArrayLength());
        Assert.Equal(9, await Api.StockAsync(1));
        Assert.Equal(100, await Api.StockAsync(2));
        Assert.Equal("Placed", (await Api.User(1).GetJsonAsync($"/orders/{order}")).GetProperty("status").GetString());
        Assert.Equal(
            """[{"productId":1,"name":"Keyboard","unitPrice":3000,"quantity":1,"lineTotal":3000}]""",
            (await Api.User(1).GetJsonAsync("/users/1/cart")).GetProperty("lines").GetRawText());
    }

    [Fact]
    public async Task A_cancel_is_safe_to_retry_without_a_key()
    {
        // What the refusal above tells a client: the repeat of a cancel is a 409 that changes nothing, so the
        // refund and the restock happen once.
        await SeedAsync();
        var order = (await Api.PlaceOrderAsync(1, 1, 1)).GetProperty("id").GetString()!;

        await ApiServer.ExpectAsync(await Api.User(1).PostAsync($"/orders/{order}/cancel"), HttpStatusCode.OK);
        await ApiServer.ExpectProblemAsync(await Api.User(1).PostAsync($"/orders/{order}/cancel"), HttpStatusCode.Conflict, "OrderAlreadyCancelled");

        Assert.Equal(100_000, await Api.BalanceAsync(1));
        Assert.Equal(10, await Api.StockAsync(1));
        Assert.Equal("Cancelled", (await Api.User(1).GetJsonAsync($"/orders/{order}")).GetProperty("status").GetString());
    }
}
