using System.Net;

namespace Commerce.Samples.WebApi.Tests;

/// <summary>
/// Requests with one meaning only: duplicate or unknown JSON properties, ids that are not positive and product names
/// with control characters are refused with a 400 that says why, and change nothing; none is a 500.
/// </summary>
public sealed class StrictRequestTests : ApiTest
{
    private async Task SeedAsync()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await Api.ChargeAsync(1, 100_000);
    }

    private async Task AssertNothingChangedAsync()
    {
        Assert.Equal(100_000, await Api.BalanceAsync(1));
        Assert.Equal(10, await Api.StockAsync(1));
        Assert.Equal(1, (await Api.GetJsonAsync("/products")).GetArrayLength());
        Assert.Equal(0, (await Api.User(1).GetJsonAsync("/users/1/cart")).GetProperty("lines").GetArrayLength());
        Assert.Equal(0, (await Api.User(1).GetJsonAsync("/users/1/orders")).GetArrayLength());
    }

    /// <summary>A request refused before the library sees it: the path, the caller, the body, and what the detail must say.</summary>
    public static TheoryData<string, string, string, string> RefusedBodies() => new()
    {
        // Duplicate properties: neither the first nor the last silently wins.
        { "/users/1/balance/charge", "user", """{"amount":100,"amount":200}""", "'$.amount' more than once" },
        { "/users/1/balance/charge", "user", """{"amount":100,"Amount":200}""", "more than once" },
        { "/orders", "user", """{"userId":1,"items":[{"productId":1,"quantity":1,"quantity":9}]}""", "more than once" },
        { "/orders", "user", """{"userId":1,"userId":2,"items":[{"productId":1,"quantity":1}]}""", "more than once" },
        { "/users/1/cart/items", "user", """{"productId":1,"productId":2,"quantity":1}""", "more than once" },
        { "/products", "admin", """{"id":2,"name":"A","name":"B","price":1,"stock":1}""", "more than once" },
        { "/products/1/restock", "admin", """{"quantity":1,"quantity":1}""", "more than once" },

        // Properties the request does not take.
        { "/users/1/balance/charge", "user", """{"amount":100,"currency":"EUR"}""", "'$.currency', which this request does not take" },
        { "/orders", "user", """{"userId":1,"items":[{"productId":1,"quantity":1,"price":0}]}""", "which this request does not take" },
        { "/orders", "user", """{"user":1,"items":[{"productId":1,"quantity":1}]}""", "which this request does not take" },
        { "/users/1/cart/items", "user", """{"productId":1,"quantity":1,"note":null}""", "which this request does not take" },
        { "/products", "admin", """{"id":2,"name":"Mouse","price":1,"stock":1,"discount":50}""", "which this request does not take" },

        // Ids in the body that are not positive (user -5 can no longer be charged through an order, nor product 0 added).
        { "/orders", "user", """{"userId":-5,"items":[{"productId":1,"quantity":1}]}""", "userId must be a positive integer" },
        { "/orders", "user", """{"userId":0,"items":[{"productId":1,"quantity":1}]}""", "userId must be a positive integer" },
        { "/orders", "user", """{"items":[{"productId":1,"quantity":1},{"productId":-1,"quantity":1}]}""", "items[1].productId must be a positive integer" },
        { "/users/1/cart/items", "user", """{"productId":0,"quantity":1}""", "productId must be a positive integer" },
        { "/products", "admin", """{"id":0,"name":"Zero","price":1,"stock":1}""", "id must be a positive integer" },
        { "/products", "admin", """{"id":-7,"name":"Negative","price":1,"stock":1}""", "id must be a positive integer" },

        // Properties the request needs, left out: none defaults to 0 (a product added without a price would be free).
        { "/products", "admin", """{"id":2,"name":"Mouse","stock":1}""", "lacks the property 'price'" },
        { "/products", "admin", """{"id":2,"name":"Mouse","price":1}""", "lacks the property 'stock'" },
        { "/products", "admin", """{"name":"Mouse","price":1,"stock":1}""", "lacks the property 'id'" },
        { "/products/1/restock", "admin", "{}", "lacks the property 'quantity'" },
        { "/users/1/balance/charge", "user", "{}", "lacks the property 'amount'" },
        { "/users/1/cart/items", "user", """{"productId":1}""", "lacks the property 'quantity'" },
        { "/orders", "user", """{"items":[{"productId":1}]}""", "lacks the property 'quantity'" },
        { "/orders", "user", """{"items":[{"quantity":1}]}""", "lacks the property 'productId'" },
        { "/orders", "user", """{"items":[null]}""", "'$.items[0]' is not of the expected type" },

        // Types and syntax.
        { "/users/1/balance/charge", "user", """{"amount":"100"}""", "'$.amount' is not of the expected type" },
        { "/users/1/balance/charge", "user", """{"amount":1e3}""", "not of the expected type" },
        { "/users/1/balance/charge", "user", """{"amount":100""", "not well-formed JSON" },
        { "/users/1/balance/charge", "user", "", "needs a JSON body" },
    };

    [Theory]
    [MemberData(nameof(RefusedBodies))]
    public async Task A_body_with_more_than_one_meaning_or_a_bad_id_is_a_400_that_says_why(string path, string caller, string body, string detail)
    {
        await SeedAsync();
        var client = caller == "admin" ? Api.Admin : Api.User(1);

        var problem = await ApiServer.ExpectProblemAsync(await client.PostRawAsync(path, body), HttpStatusCode.BadRequest, "InvalidRequest");

        Assert.Contains(detail, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("Commerce.", problem.GetProperty("detail").GetString(), StringComparison.Ordinal); // no .NET type names
        await AssertNothingChangedAsync();
    }

    [Theory]
    [InlineData("Tea\\u0000")]
    [InlineData("\\u0000")]
    [InlineData("Line\\nbreak")]
    [InlineData("Bell\\u0007")]
    [InlineData("Esc\\u001b[31m")]
    [InlineData("Next\\u0085line")]
    public async Task A_product_name_with_a_control_character_is_a_400_InvalidProductName(string escapedName)
    {
        await SeedAsync();
        var body = $$"""{"id":2,"name":"{{escapedName}}","price":1,"stock":1}""";

        await ApiServer.ExpectProblemAsync(await Api.Admin.PostRawAsync("/products", body), HttpStatusCode.BadRequest, "InvalidProductName");

        await ApiServer.ExpectProblemAsync(await Client.GetAsync(new Uri("/products/2", UriKind.Relative)), HttpStatusCode.NotFound, "ProductNotFound");
        await AssertNothingChangedAsync();
    }

    [Fact]
    public async Task A_name_with_an_unpaired_surrogate_is_refused_and_one_outside_the_basic_plane_is_kept()
    {
        await ApiServer.ExpectProblemAsync(
            await Api.Admin.PostRawAsync("/products", """{"id":2,"name":"Half \ud83c","price":1,"stock":1}"""), HttpStatusCode.BadRequest, "InvalidRequest");
        var added = await ApiServer.ExpectAsync(
            await Api.Admin.PostRawAsync("/products", """{"id":3,"name":"Th\u00e9 \ud83c\udf75","price":1,"stock":1}"""), HttpStatusCode.Created);
        Assert.Equal("Th\u00e9 \ud83c\udf75", added.GetProperty("name").GetString());
    }

    public static TheoryData<string, string, string> MalformedRouteIds() => new()
    {
        { "GET", "/users/abc/balance", "route value 'userId' must be a positive integer" },
        { "GET", "/users/0/balance", "route value 'userId' must be a positive integer" },
        { "POST", "/users/-5/balance/charge", "route value 'userId' must be a positive integer" },
        { "GET", "/users/1.5/ledger", "route value 'userId' must be a positive integer" },
        { "GET", "/users/99999999999999999999/orders", "route value 'userId' must be a positive integer" },
        { "GET", "/users/+1/cart", "route value 'userId' must be a positive integer" },
        { "DELETE", "/users/1/cart/items/0", "route value 'productId' must be a positive integer" },
        { "DELETE", "/users/1/cart/items/two", "route value 'productId' must be a positive integer" },
        { "GET", "/products/-1", "route value 'id' must be a positive integer" },
        { "POST", "/products/x/restock", "route value 'id' must be a positive integer" },
        { "GET", "/orders/12", "route value 'orderId' must be a GUID" },
        { "POST", "/orders/not-a-guid/cancel", "route value 'orderId' must be a GUID" },
    };

    [Theory]
    [MemberData(nameof(MalformedRouteIds))]
    public async Task A_malformed_id_in_the_path_is_a_400_naming_the_route_value_whoever_asks(string method, string path, string detail)
    {
        foreach (var client in new[] { Api.Anonymous, Api.User(1), Api.Admin })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));
            if (method == "POST")
            {
                request.Content = new StringContent("""{"amount":1}""", System.Text.Encoding.UTF8, "application/json");
            }

            var problem = await ApiServer.ExpectProblemAsync(await client.Http.SendAsync(request), HttpStatusCode.BadRequest, "InvalidRequest");
            Assert.Contains(detail, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("/products?limit=ten", "'limit' must be a whole number")]
    [InlineData("/products?after=-1", "after must be 0 or more")]
    [InlineData("/products/popular?days=x", "'days' must be a whole number")]
    public async Task A_malformed_query_value_is_a_400_naming_it(string path, string detail)
    {
        var problem = await ApiServer.ExpectProblemAsync(await Client.GetAsync(new Uri(path, UriKind.Relative)), HttpStatusCode.BadRequest, "InvalidRequest");
        Assert.Contains(detail, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/products?limit=1&limit=2", "limit")]
    [InlineData("/products?after=1&after=1", "after")]
    [InlineData("/products/popular?count=1&count=2", "count")]
    [InlineData("/products/popular?days=1&days=2", "days")]
    [InlineData("/users/1/ledger?after=0&after=1", "after")]
    [InlineData("/users/1/orders?limit=5&limit=5", "limit")]
    public async Task A_query_value_sent_twice_is_a_400_that_says_so(string path, string name)
    {
        // Bound as one value, the two are joined by a comma ("1,2"), which is no number: the client sent two
        // numbers in range, and the detail says what is wrong with that.
        var problem = await ApiServer.ExpectProblemAsync(await Api.User(1).GetAsync(path), HttpStatusCode.BadRequest, "InvalidRequest");
        Assert.Equal($"'{name}' must be sent at most once.", problem.GetProperty("detail").GetString());
    }

    /// <summary>The writes that take no body: a cancel, a checkout and the removal of a cart line.</summary>
    public static TheoryData<string, string> BodilessWrites() => new()
    {
        { "POST", "/orders/{order}/cancel" },
        { "POST", "/users/1/cart/checkout" },
        { "DELETE", "/users/1/cart/items/1" },
    };

    /// <summary>An order of one keyboard, and a cart holding another: the state each bodiless write would change.</summary>
    private async Task<string> SeedBodilessWritesAsync()
    {
        await SeedAsync();
        var order = (await Api.PlaceOrderAsync(1, 1, 1)).GetProperty("id").GetString()!;
        await ApiServer.ExpectAsync(await Api.User(1).PostJsonAsync("/users/1/cart/items", new { productId = 1, quantity = 1 }), HttpStatusCode.OK);
        return order;
    }

    private async Task AssertBodilessWritesChangedNothingAsync(string order)
    {
        Assert.Equal("Placed", (await Api.User(1).GetJsonAsync($"/orders/{order}")).GetProperty("status").GetString());
        Assert.Equal(1, (await Api.User(1).GetJsonAsync("/users/1/orders")).GetArrayLength());
        Assert.Equal(1, (await Api.User(1).GetJsonAsync("/users/1/cart")).GetProperty("lines").GetArrayLength());
        Assert.Equal(9, await Api.StockAsync(1));
    }

    [Theory]
    [MemberData(nameof(BodilessWrites))]
    public async Task A_write_that_takes_no_body_refuses_one_with_a_400_and_changes_nothing(string method, string path)
    {
        // As a body write refuses a property it does not take, a write that takes none refuses content rather than
        // run as if it had not been sent ({"reason":…} would be dropped silently, and so would a body meant for another route).
        var order = await SeedBodilessWritesAsync();
        string[] bodies = ["""{"reason":"changed my mind"}""", "{}", "x"];
        foreach (var body in bodies)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path.Replace("{order}", order, StringComparison.Ordinal), UriKind.Relative))
            {
                Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
            };

            var problem = await ApiServer.ExpectProblemAsync(await Api.User(1).Http.SendAsync(request), HttpStatusCode.BadRequest, "InvalidRequest");
            Assert.Equal("This request takes no body; send it without one.", problem.GetProperty("detail").GetString());
        }

        using (var chunked = new HttpRequestMessage(new HttpMethod(method), new Uri(path.Replace("{order}", order, StringComparison.Ordinal), UriKind.Relative))
        {
            Content = new UnsizedContent("{}"u8.ToArray()),
        })
        {
            var response = await Api.User(1).Http.SendAsync(chunked);
            Assert.True(chunked.Headers.TransferEncodingChunked, "the body was not sent chunked");
            await ApiServer.ExpectProblemAsync(response, HttpStatusCode.BadRequest, "InvalidRequest");
        }

        await AssertBodilessWritesChangedNothingAsync(order);
    }

    [Theory]
    [MemberData(nameof(BodilessWrites))]
    public async Task A_write_that_takes_no_body_runs_with_an_empty_one(string method, string path)
    {
        // What clients send for "no body": no content at all, a Content-Length of 0 with a Content-Type, or an empty chunked body.
        var order = await SeedBodilessWritesAsync();
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path.Replace("{order}", order, StringComparison.Ordinal), UriKind.Relative))
        {
            Content = path.EndsWith("/checkout", StringComparison.Ordinal)
                ? new UnsizedContent([])
                : new StringContent("", System.Text.Encoding.UTF8, "application/json"),
        };

        var response = await Api.User(1).Http.SendAsync(request);

        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>Content of no known length, which HttpClient sends chunked.</summary>
    private sealed class UnsizedContent(byte[] bytes) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => stream.WriteAsync(bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
