using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Commerce.Samples.WebApi.Tests;

public sealed class HostingTests : ApiTest
{
    [Fact]
    public async Task Health_reports_healthy()
    {
        var response = await Client.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("POST", "/health")]
    [InlineData("PUT", "/health")]
    [InlineData("DELETE", "/health")]
    [InlineData("PATCH", "/health")]
    [InlineData("POST", "/metrics")]
    [InlineData("PUT", "/metrics")]
    [InlineData("DELETE", "/metrics")]
    [InlineData("PATCH", "/metrics")]
    public async Task Health_and_metrics_answer_a_method_other_than_get_or_head_with_a_405_problem(string method, string path)
    {
        // As every other route does: what a probe or a scraper sends (GET, or HEAD) is answered, anything else is not.
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative))
        {
            Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json"),
        };

        using var response = await Client.SendAsync(request);

        await ApiServer.ExpectProblemAsync(response, HttpStatusCode.MethodNotAllowed, "MethodNotAllowed");
        Assert.Equal("GET, HEAD", string.Join(", ", response.Content.Headers.Allow.Order(StringComparer.Ordinal)));
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync(new Uri(path, UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task The_openapi_document_describes_every_route()
    {
        var document = await Api.GetJsonAsync("/openapi/v1.json");
        Assert.StartsWith("3.", document.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToHashSet();
        string[] expected =
        [
            "/users/{userId}/balance/charge", "/users/{userId}/balance", "/products", "/products/{id}", "/products/{id}/restock",
            "/products/popular", "/orders", "/orders/{orderId}", "/users/{userId}/cart", "/users/{userId}/cart/items",
            "/users/{userId}/cart/items/{productId}", "/users/{userId}/cart/checkout", "/users/{userId}/ledger",
            "/users/{userId}/orders", "/orders/{orderId}/cancel",
        ];
        Assert.All(expected, path => Assert.Contains(path, paths));
    }

    [Fact]
    public async Task The_openapi_document_names_the_idempotency_key_header_of_each_retryable_post()
    {
        var paths = (await Api.GetJsonAsync("/openapi/v1.json")).GetProperty("paths");
        foreach (var path in new[] { "/users/{userId}/balance/charge", "/orders", "/users/{userId}/cart/checkout" })
        {
            var parameters = paths.GetProperty(path).GetProperty("post").GetProperty("parameters").EnumerateArray();
            Assert.Contains(parameters, p => p.GetProperty("name").GetString() == "Idempotency-Key" && p.GetProperty("in").GetString() == "header");
        }
    }

    [Fact]
    public async Task The_openapi_document_describes_the_bearer_scheme_and_which_operations_need_it()
    {
        var document = await Api.GetJsonAsync("/openapi/v1.json");
        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer");
        Assert.Equal("http", scheme.GetProperty("type").GetString());
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());
        Assert.Equal("JWT", scheme.GetProperty("bearerFormat").GetString());

        var paths = document.GetProperty("paths");
        bool NeedsToken(string path, string method) =>
            paths.GetProperty(path).GetProperty(method).TryGetProperty("security", out var security)
            && security.EnumerateArray().Any(requirement => requirement.TryGetProperty("Bearer", out _));

        Assert.True(NeedsToken("/users/{userId}/balance", "get"));
        Assert.True(NeedsToken("/users/{userId}/balance/charge", "post"));
        Assert.True(NeedsToken("/orders", "post"));
        Assert.True(NeedsToken("/orders/{orderId}", "get"));
        Assert.True(NeedsToken("/products", "post"));
        Assert.False(NeedsToken("/products", "get"));
        Assert.False(NeedsToken("/products/{id}", "get"));
        Assert.False(NeedsToken("/products/popular", "get"));
    }

    [Fact]
    public async Task The_openapi_document_requires_no_order_property_that_an_order_may_leave_out()
    {
        // POST /orders takes {"items":[…]} without userId (it is the caller's) and {"userId":1} without items (EmptyOrder).
        var schema = (await Api.GetJsonAsync("/openapi/v1.json")).GetProperty("components").GetProperty("schemas").GetProperty("PlaceOrderRequest");
        var required = schema.TryGetProperty("required", out var names) ? names.EnumerateArray().Select(n => n.GetString()).ToArray() : [];
        Assert.DoesNotContain("userId", required);
        Assert.DoesNotContain("items", required);

        await Api.AddProductAsync(1, "Keyboard", 3000, 10);
        await Api.ChargeAsync(1, 10_000);
        await ApiServer.ExpectAsync(await Api.User(1).PostRawAsync("/orders", """{"items":[{"productId":1,"quantity":1}]}"""), HttpStatusCode.Created);
        await ApiServer.ExpectProblemAsync(await Api.User(1).PostRawAsync("/orders", """{"userId":1}"""), HttpStatusCode.BadRequest, "EmptyOrder");
    }

    [Fact]
    public async Task The_openapi_document_requires_both_properties_of_an_order_line()
    {
        // A line without its product or its quantity is refused as such (StrictRequestTests), not read as 0.
        var schema = (await Api.GetJsonAsync("/openapi/v1.json")).GetProperty("components").GetProperty("schemas").GetProperty("OrderItemRequest");
        var required = schema.TryGetProperty("required", out var names) ? names.EnumerateArray().Select(n => n.GetString()).ToArray() : [];
        Assert.Contains("productId", required);
        Assert.Contains("quantity", required);
    }

    [Fact]
    public async Task The_openapi_document_describes_the_properties_every_problem_carries()
    {
        var problem = (await Api.GetJsonAsync("/openapi/v1.json")).GetProperty("components").GetProperty("schemas").GetProperty("ProblemDetails");
        var described = problem.GetProperty("properties").EnumerateObject().Select(p => p.Name).ToHashSet();
        Assert.Contains("code", problem.GetProperty("required").EnumerateArray().Select(n => n.GetString()));

        // A real refusal that names products: each of its properties is one the document describes.
        await Api.ChargeAsync(1, 100);
        var refused = await ApiServer.ExpectProblemAsync(
            await Api.User(1).PostRawAsync("/orders", """{"items":[{"productId":9,"quantity":1}]}"""), HttpStatusCode.NotFound, "ProductNotFound");
        Assert.All(refused.EnumerateObject(), p => Assert.Contains(p.Name, described));
    }

    [Fact]
    public async Task The_openapi_document_lists_409_for_every_write_the_library_may_refuse_with_ConcurrencyConflict()
    {
        // Every write the library runs may give up after MaxCommitAttempts conflicts: ConcurrencyConflict, a 409.
        var paths = (await Api.GetJsonAsync("/openapi/v1.json")).GetProperty("paths");
        (string Path, string Method)[] writes =
        [
            ("/users/{userId}/balance/charge", "post"), ("/products", "post"), ("/products/{id}/restock", "post"),
            ("/orders", "post"), ("/orders/{orderId}/cancel", "post"), ("/users/{userId}/cart/items", "post"),
            ("/users/{userId}/cart/items/{productId}", "delete"), ("/users/{userId}/cart/checkout", "post"),
        ];
        Assert.All(writes, write => Assert.True(
            paths.GetProperty(write.Path).GetProperty(write.Method).GetProperty("responses").TryGetProperty("409", out _),
            $"{write.Method.ToUpperInvariant()} {write.Path} does not list 409"));
    }

    [Fact]
    public async Task The_openapi_document_lists_for_a_checkout_every_status_an_order_may_answer()
    {
        // A checkout places an order from the cart with the same validation, pricing, balance and stock checks as
        // POST /orders, and may be refused with any of its refusals (a cart line's product unknown to the catalog: a
        // 404 ProductNotFound); it reads no body, so it has no 413 or 415.
        var paths = (await Api.GetJsonAsync("/openapi/v1.json")).GetProperty("paths");
        string[] Statuses(string path) =>
            [.. paths.GetProperty(path).GetProperty("post").GetProperty("responses").EnumerateObject().Select(r => r.Name)];

        var order = Statuses("/orders").Where(status => status is not ("201" or "413" or "415"));
        Assert.Empty(order.Except(Statuses("/users/{userId}/cart/checkout")));
    }

    [Fact]
    public async Task The_openapi_document_lists_500_and_503_for_every_operation_and_413_and_415_for_every_one_with_a_body()
    {
        // Any operation may meet an unhandled exception (500) or a store that stays unavailable (503, StoreUnavailable);
        // one that reads a JSON body may get one above the server's limit (413) or not JSON, or in a charset the API
        // cannot decode (415). Each is answered with a problem, which the document describes as it does the others.
        var paths = (await Api.GetJsonAsync("/openapi/v1.json")).GetProperty("paths");
        var (withBody, missing) = (new List<string>(), new List<string>());
        foreach (var path in paths.EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                var name = $"{operation.Name.ToUpperInvariant()} {path.Name}";
                var statuses = new List<string> { "500", "503" };
                if (operation.Value.TryGetProperty("requestBody", out _))
                {
                    withBody.Add(name);
                    statuses.AddRange(["413", "415"]);
                }

                var responses = operation.Value.GetProperty("responses");
                missing.AddRange(statuses.Where(status => !IsProblem(responses, status)).Select(status => $"{name} {status}"));
            }
        }

        Assert.Empty(missing);
        Assert.Equal(
            ["POST /orders", "POST /products", "POST /products/{id}/restock", "POST /users/{userId}/balance/charge", "POST /users/{userId}/cart/items"],
            withBody.Order(StringComparer.Ordinal));

        static bool IsProblem(JsonElement responses, string status) =>
            responses.TryGetProperty(status, out var response)
            && response.TryGetProperty("content", out var content)
            && content.TryGetProperty("application/problem+json", out var problem)
            && problem.GetProperty("schema").TryGetProperty("$ref", out var schema)
            && schema.GetString() == "#/components/schemas/ProblemDetails";
    }

    [Fact]
    public async Task The_openapi_document_declares_the_retry_after_header_of_every_429_and_503()
    {
        // Both are sent with Retry-After (the seconds left in the caller's window; 1 for a store that refused), which
        // tells a client when to retry: the document says so wherever it lists them.
        var paths = (await Api.GetJsonAsync("/openapi/v1.json")).GetProperty("paths");
        var (declared, missing) = (new List<string>(), new List<string>());
        foreach (var path in paths.EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                foreach (var status in new[] { "429", "503" })
                {
                    if (!operation.Value.GetProperty("responses").TryGetProperty(status, out var response))
                    {
                        continue;
                    }

                    var name = $"{operation.Name.ToUpperInvariant()} {path.Name} {status}";
                    if (response.TryGetProperty("headers", out var headers)
                        && headers.TryGetProperty("Retry-After", out var header)
                        && header.GetProperty("required").GetBoolean()
                        && header.GetProperty("schema").GetProperty("type").GetString() == "integer"
                        && header.GetProperty("schema").GetProperty("minimum").GetRawText() == "1"
                        && !string.IsNullOrEmpty(header.GetProperty("description").GetString()))
                    {
                        declared.Add(name);
                    }
                    else
                    {
                        missing.Add(name);
                    }
                }
            }
        }

        Assert.Empty(missing);
        Assert.Contains("POST /users/{userId}/balance/charge 429", declared);
        Assert.Contains("GET /products 503", declared);
    }

    [Fact]
    public async Task The_openapi_document_describes_the_event_stream_as_server_sent_events_whose_data_is_an_event()
    {
        // Each event of the stream is an SSE item whose data line is one event as GET /events lists it: the
        // document names that schema, not SseItem's own fields (eventType, eventId, reconnectionInterval), which
        // are the item's SSE fields rather than a JSON body.
        var ok = (await Api.GetJsonAsync("/openapi/v1.json")).GetProperty("paths").GetProperty("/events/stream")
            .GetProperty("get").GetProperty("responses").GetProperty("200");
        var content = Assert.Single(ok.GetProperty("content").EnumerateObject());
        Assert.Equal("text/event-stream", content.Name);
        Assert.Equal("#/components/schemas/EventResponse", content.Value.GetProperty("schema").GetProperty("$ref").GetString());
    }

    [Fact]
    public async Task An_unknown_route_is_a_404_problem()
    {
        await ApiServer.ExpectProblemAsync(await Client.GetAsync(new Uri("/nowhere", UriKind.Relative)), HttpStatusCode.NotFound, "NotFound");
    }

    [Theory]
    [InlineData("/openapi/v2.json")]
    [InlineData("/openapi/internal.json")]
    public async Task An_openapi_document_the_api_does_not_have_is_a_404_problem(string path)
    {
        await ApiServer.ExpectProblemAsync(await Client.GetAsync(new Uri(path, UriKind.Relative)), HttpStatusCode.NotFound, "NotFound");
    }

    [Fact]
    public async Task A_wrong_method_is_a_405_problem()
    {
        await ApiServer.ExpectProblemAsync(
            await Client.DeleteAsync(new Uri("/products", UriKind.Relative)), HttpStatusCode.MethodNotAllowed, "MethodNotAllowed");
    }

    [Theory]
    [InlineData("GET", "/nowhere")]
    [InlineData("POST", "/nowhere")]
    [InlineData("DELETE", "/users/1/nowhere")]
    public async Task An_unknown_route_is_a_404_problem_that_says_where_the_routes_are_listed(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));
        using var response = await Client.SendAsync(request);

        var problem = await ApiServer.ExpectProblemAsync(response, HttpStatusCode.NotFound, "NotFound");
        Assert.Equal(
            "No route of the API matches this address; its OpenAPI document, /openapi/v1.json, lists every route.",
            problem.TryGetProperty("detail", out var detail) ? detail.GetString() : null);
    }

    [Theory]
    [InlineData("DELETE", "/products", "GET, HEAD, POST")]
    [InlineData("PUT", "/products/1", "GET, HEAD")]
    [InlineData("GET", "/users/1/cart/checkout", "POST")]
    [InlineData("PATCH", "/orders/00000000-0000-0000-0000-000000000001/cancel", "POST")]
    public async Task A_wrong_method_is_a_405_problem_that_names_it_and_keeps_the_allow_header(string method, string path, string allowed)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));
        using var response = await Client.SendAsync(request);

        var problem = await ApiServer.ExpectProblemAsync(response, HttpStatusCode.MethodNotAllowed, "MethodNotAllowed");
        Assert.Equal(
            $"This route does not answer {method}; the Allow header lists the methods it answers.",
            problem.TryGetProperty("detail", out var detail) ? detail.GetString() : null);
        Assert.Equal(allowed, string.Join(", ", response.Content.Headers.Allow.Order(StringComparer.Ordinal)));
    }

    [Theory]
    [InlineData("text/html")]
    [InlineData("text/plain")]
    [InlineData("application/xml")]
    [InlineData("text/html, application/xhtml+xml, application/xml;q=0.9, image/avif, */*;q=0.8")]
    public async Task Every_error_is_a_problem_whatever_the_request_accepts(string accept)
    {
        // RFC 9110 lets an error answer ignore Accept, and the API has one format for errors: a client that asked
        // for HTML (a browser) gets the problem, not a plain-text page, an empty body or one without its headers.
        // Two writes pass (the two charges below), the third is refused.
        await using var server = await ApiServer.StartAsync(
            app => app.MapPost(
                "/refused",
                () => TypedResults.Problem(
                    detail: "The store did not answer.",
                    statusCode: StatusCodes.Status503ServiceUnavailable,
                    extensions: new Dictionary<string, object?> { ["code"] = nameof(CommerceErrorCode.StoreUnavailable) })),
            "--RateLimiting:Writes:PermitLimit=2",
            "--RateLimiting:Writes:Window=01:00:00");

        async Task<(HttpResponseMessage Response, JsonElement Problem)> SendAsync(
            HttpClient client, HttpMethod method, string path, string? json, HttpStatusCode status, string code)
        {
            using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
            if (json is not null)
            {
                request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
            }

            Assert.True(request.Headers.TryAddWithoutValidation("Accept", accept));
            var response = await client.SendAsync(request);
            var problem = await ApiServer.ExpectProblemAsync(response, status, code);
            Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
            Assert.True(problem.TryGetProperty("traceId", out _), "the problem has no traceId");
            return (response, problem);
        }

        await SendAsync(server.Client, HttpMethod.Get, "/nowhere", null, HttpStatusCode.NotFound, "NotFound");
        var (wrongMethod, _) = await SendAsync(server.Client, HttpMethod.Delete, "/products", null, HttpStatusCode.MethodNotAllowed, "MethodNotAllowed");
        Assert.Equal("GET, HEAD, POST", string.Join(", ", wrongMethod.Content.Headers.Allow.Order(StringComparer.Ordinal)));
        await SendAsync(server.Client, HttpMethod.Get, "/users/1/balance", null, HttpStatusCode.Unauthorized, "Unauthorized");
        await SendAsync(server.User(1).Http, HttpMethod.Post, "/users/1/balance/charge", "{\"amount\":", HttpStatusCode.BadRequest, "InvalidRequest");
        await SendAsync(server.User(1).Http, HttpMethod.Post, "/users/1/balance/charge", "{\"amount\":0}", HttpStatusCode.BadRequest, "InvalidAmount");
        await SendAsync(server.Client, HttpMethod.Get, "/products/9", null, HttpStatusCode.NotFound, "ProductNotFound");
        var (unavailable, _) = await SendAsync(server.Client, HttpMethod.Post, "/refused", null, HttpStatusCode.ServiceUnavailable, "StoreUnavailable");
        Assert.Equal("1", unavailable.Headers.RetryAfter?.ToString());
        var (limited, _) = await SendAsync(
            server.User(1).Http, HttpMethod.Post, "/users/1/balance/charge", "{\"amount\":100}", HttpStatusCode.TooManyRequests, "TooManyRequests");
        Assert.NotNull(limited.Headers.RetryAfter);
    }

    [Theory]
    [InlineData("application/json; charset=bogus")]
    [InlineData("application/json; charset=\"no-such-encoding\"")]
    [InlineData("application/json; charset=\"\"")]
    public async Task A_json_body_in_a_charset_the_server_cannot_decode_is_a_415_problem_and_changes_nothing(string contentType)
    {
        using var content = new ByteArrayContent("""{"amount":1000}"""u8.ToArray());
        Assert.True(content.Headers.TryAddWithoutValidation("Content-Type", contentType));

        var response = await Api.User(1).Http.PostAsync(new Uri("/users/1/balance/charge", UriKind.Relative), content);

        var problem = await ApiServer.ExpectProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "UnsupportedMediaType");
        Assert.Contains("charset", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await Api.BalanceAsync(1));
    }

    [Fact]
    public async Task A_body_above_the_servers_limit_is_a_413_problem_and_changes_nothing()
    {
        // Kestrel's limit is 30 MB; a request may lower its own before its body is read.
        await using var server = await ApiServer.StartAsync(app => app.Use((context, next) =>
        {
            context.Features.GetRequiredFeature<IHttpMaxRequestBodySizeFeature>().MaxRequestBodySize = 64;
            return next(context);
        }));
        var body = $$"""{"amount":1000,"padding":"{{new string('x', 100)}}"}""";
        await ApiServer.ExpectProblemAsync(
            await server.User(1).PostRawAsync("/users/1/balance/charge", body), HttpStatusCode.RequestEntityTooLarge, "PayloadTooLarge");
        Assert.Equal(0, await server.BalanceAsync(1));
    }

    [Fact]
    public async Task An_unhandled_exception_is_a_500_problem_without_its_details()
    {
        await using var server = await ApiServer.StartAsync(app =>
            app.MapGet("/explode", IResult () => throw new InvalidOperationException("secret internal state")));
        var response = await server.Client.GetAsync(new Uri("/explode", UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        await ApiServer.ExpectProblemAsync(response, HttpStatusCode.InternalServerError, "InternalError");
        Assert.DoesNotContain("secret", body, StringComparison.Ordinal);
        Assert.DoesNotContain("InvalidOperationException", body, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_read_the_store_kept_refusing_is_a_503_problem_to_retry()
    {
        await using var server = await ApiServer.StartAsync(app =>
            app.MapGet("/refused", IResult () => throw new StoreUnavailableException("53300: sorry, too many clients already")));
        var response = await server.Client.GetAsync(new Uri("/refused", UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        await ApiServer.ExpectProblemAsync(response, HttpStatusCode.ServiceUnavailable, "StoreUnavailable");
        Assert.Equal("1", response.Headers.RetryAfter?.ToString());
        Assert.DoesNotContain("53300", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_503_problem_result_as_the_endpoints_answer_StoreUnavailable_carries_Retry_After()
    {
        // What the endpoints answer for a StoreUnavailable result: a typed problem result, which sets no header itself.
        await using var server = await ApiServer.StartAsync(app => app.MapPost(
            "/refused",
            () => TypedResults.Problem(
                detail: "The store did not answer.",
                statusCode: StatusCodes.Status503ServiceUnavailable,
                extensions: new Dictionary<string, object?> { ["code"] = nameof(CommerceErrorCode.StoreUnavailable) })));
        var response = await server.Client.PostAsync(new Uri("/refused", UriKind.Relative), content: null);
        await ApiServer.ExpectProblemAsync(response, HttpStatusCode.ServiceUnavailable, "StoreUnavailable");
        Assert.Equal("1", response.Headers.RetryAfter?.ToString());
    }

    [Theory]
    [InlineData("60.00:00:00")] // beyond what a timer can wait
    [InlineData("00:00:00")]
    [InlineData("soon")]
    public void A_stream_keep_alive_out_of_range_fails_at_start(string setting)
    {
        Assert.Throws<InvalidOperationException>(() => Program.CreateApp(["--Events:StreamKeepAlive=" + setting]));
    }

    [Fact]
    public async Task The_store_starts_empty_unless_seeding_is_enabled()
    {
        Assert.Equal(0, (await Api.GetJsonAsync("/products")).GetArrayLength());

        await using var seeded = await ApiServer.StartAsync(null, "--Seed:Enabled=true");
        Assert.Equal(6, (await seeded.GetJsonAsync("/products")).GetArrayLength());
        Assert.Equal(100_000, await seeded.BalanceAsync(1));
    }

    [Fact]
    public async Task The_library_options_bind_from_the_Commerce_configuration_section()
    {
        // Any configuration source: a command-line argument here, appsettings.json or an environment variable
        // (Commerce__MaxChargeAmount) alike.
        await using var server = await ApiServer.StartAsync(null, "--Commerce:MaxChargeAmount=500");

        await ApiServer.ExpectAsync(await server.User(1).PostJsonAsync("/users/1/balance/charge", new { amount = 500 }), HttpStatusCode.OK);
        var problem = await ApiServer.ExpectProblemAsync(
            await server.User(1).PostJsonAsync("/users/1/balance/charge", new { amount = 501 }), HttpStatusCode.BadRequest, "ChargeLimitExceeded");
        Assert.Contains("at most 500,", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
