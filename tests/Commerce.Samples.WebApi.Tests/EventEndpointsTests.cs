using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Commerce.Samples.WebApi.Tests;

public sealed class EventEndpointsTests : ApiTest
{
    [Fact]
    public async Task The_feed_is_for_the_back_office_only()
    {
        await ApiServer.ExpectProblemAsync(await Api.Anonymous.GetAsync("/events"), HttpStatusCode.Unauthorized, "Unauthorized");
        await ApiServer.ExpectProblemAsync(await Api.User(1).GetAsync("/events"), HttpStatusCode.Forbidden, "Forbidden");
        await ApiServer.ExpectProblemAsync(await Api.User(1).GetAsync("/events/stream"), HttpStatusCode.Forbidden, "Forbidden");
    }

    [Fact]
    public async Task Every_change_is_an_event_with_its_fields()
    {
        await Api.AddProductAsync(1, "Keyboard", 3000, 2);
        await Api.ChargeAsync(7, 10_000);
        var order = await Api.PlaceOrderAsync(7, 1, 2);
        var id = order.GetProperty("id").GetGuid();
        await ApiServer.ExpectAsync(await Api.User(7).PostAsync($"/orders/{id}/cancel"), HttpStatusCode.OK);

        var events = await AllEventsAsync();

        Assert.Equal(["OrderCancelled", "OrderPlaced", "ProductAdded", "StockDepleted", "WalletCharged"], Sorted(events));
        var placed = events.Single(e => e.GetProperty("type").GetString() == "OrderPlaced");
        Assert.Equal(7, placed.GetProperty("userId").GetInt64());
        Assert.Equal(id, placed.GetProperty("orderId").GetGuid());
        Assert.Equal(6000, placed.GetProperty("total").GetInt64());
        Assert.Equal(2, placed.GetProperty("lines")[0].GetProperty("quantity").GetInt32());
        Assert.False(placed.TryGetProperty("name", out _)); // the fields of other kinds are left out
        var charged = events.Single(e => e.GetProperty("type").GetString() == "WalletCharged");
        Assert.Equal(10_000, charged.GetProperty("balanceAfter").GetInt64());
        var depleted = events.Single(e => e.GetProperty("type").GetString() == "StockDepleted");
        Assert.Equal(1, depleted.GetProperty("productId").GetInt64());
        Assert.Equal(id, depleted.GetProperty("orderId").GetGuid());
        Assert.Equal(6000, events.Single(e => e.GetProperty("type").GetString() == "OrderCancelled").GetProperty("amount").GetInt64());

        // Each stream's events in commit order: user 7 charged, ordered, cancelled; product 1 added, then depleted.
        string[] TypesOf(Func<JsonElement, bool> stream) => [.. events.Where(stream).Select(e => e.GetProperty("type").GetString()!)];
        Assert.Equal(["WalletCharged", "OrderPlaced", "OrderCancelled"], TypesOf(e => e.TryGetProperty("userId", out var u) && u.GetInt64() == 7));
        Assert.Equal(["ProductAdded", "StockDepleted"], TypesOf(e => e.TryGetProperty("productId", out var p) && p.GetInt64() == 1));
    }

    [Fact]
    public async Task Pages_follow_one_another_by_the_cursor_without_gap_or_repeat()
    {
        for (var user = 1; user <= 9; user++)
        {
            await Api.ChargeAsync(user, user * 10);
        }

        var seen = new List<long>();
        var after = "";
        while (true)
        {
            var page = await Api.Admin.GetJsonAsync($"/events?limit=2&after={Uri.EscapeDataString(after)}");
            var events = page.GetProperty("events").EnumerateArray().ToArray();
            Assert.True(events.Length <= 2);
            if (events.Length == 0)
            {
                Assert.Equal(after, page.GetProperty("next").GetString());
                break;
            }

            seen.AddRange(events.Select(e => e.GetProperty("amount").GetInt64()));
            after = page.GetProperty("next").GetString()!;
        }

        Assert.Equal(Enumerable.Range(1, 9).Select(u => u * 10L).Order(), seen.Order());
    }

    [Theory]
    [InlineData("/events?after=nonsense")]
    [InlineData("/events?after=3:0")]
    [InlineData("/events?limit=0")]
    [InlineData("/events?limit=1001")]
    [InlineData("/events/stream?after=x")]
    public async Task A_bad_cursor_or_limit_is_400(string path) =>
        await ApiServer.ExpectProblemAsync(await Api.Admin.GetAsync(path), HttpStatusCode.BadRequest, "InvalidRequest");

    [Fact]
    public async Task A_cursor_ahead_of_what_the_store_committed_is_a_400_naming_it_rather_than_a_page_that_skips_events()
    {
        // A forged cursor, or one from another store or from before the API restarted (the in-memory store starts
        // empty): read as given, the stripe's events up to its sequence would be skipped as they are committed.
        await Api.ChargeAsync(1, 100);
        var head = EventCursorOf((await Api.Admin.GetJsonAsync("/events")).GetProperty("next").GetString()!);
        var stripe = Assert.Single(head.Stripes);
        var ahead = head.Through(stripe with { Sequence = stripe.Sequence + 2 }).ToString();

        var problem = await ApiServer.ExpectProblemAsync(
            await Api.Admin.GetAsync($"/events?after={Uri.EscapeDataString(ahead)}"), HttpStatusCode.BadRequest, "InvalidRequest");
        Assert.Contains($"'{stripe.Stripe}:{stripe.Sequence + 2}'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // The charges that fill the stripe up to the cursor are still read after the head.
        await Api.ChargeAsync(1, 200);
        await Api.ChargeAsync(1, 300);
        var next = await Api.Admin.GetJsonAsync($"/events?after={Uri.EscapeDataString(head.ToString())}");
        Assert.Equal([200L, 300L], next.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("amount").GetInt64()));
        Assert.Equal(ahead, next.GetProperty("next").GetString()); // once committed, the same cursor is no longer ahead
        await Api.Admin.GetJsonAsync($"/events?after={Uri.EscapeDataString(ahead)}");
    }

    [Fact]
    public async Task A_cursor_ahead_in_one_stripe_of_many_is_found_and_one_behind_in_all_is_not()
    {
        for (var user = 1; user <= 40; user++)
        {
            await Api.ChargeAsync(user, user);
            await Api.ChargeAsync(user, user);
        }

        var head = EventCursorOf((await Api.Admin.GetJsonAsync("/events?limit=1000")).GetProperty("next").GetString()!);
        var stripes = head.Stripes.ToArray();
        Assert.True(stripes.Length > 2);
        var behind = stripes.Aggregate(Events.EventCursor.Start, (cursor, stripe) => cursor.Through(stripe with { Sequence = Math.Max(1, stripe.Sequence - 1) }));
        var last = stripes[^1];
        var ahead = head.Through(last with { Sequence = last.Sequence + 1 });

        var page = await Api.Admin.GetJsonAsync($"/events?limit=1000&after={Uri.EscapeDataString(behind.ToString())}");
        Assert.Equal(head.ToString(), page.GetProperty("next").GetString());
        var problem = await ApiServer.ExpectProblemAsync(
            await Api.Admin.GetAsync($"/events?after={Uri.EscapeDataString(ahead.ToString())}"), HttpStatusCode.BadRequest, "InvalidRequest");
        Assert.StartsWith("after is ahead of the feed", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0:1")]
    [InlineData("5:3,17:1")]
    [InlineData("1023:1")]
    public async Task A_cursor_on_an_empty_store_is_ahead_of_it(string cursor)
    {
        var problem = await ApiServer.ExpectProblemAsync(
            await Api.Admin.GetAsync($"/events?after={Uri.EscapeDataString(cursor)}"), HttpStatusCode.BadRequest, "InvalidRequest");
        Assert.Contains("ahead", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_stream_from_a_cursor_ahead_of_the_store_is_a_400_before_it_opens(bool asLastEventId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)); // a guard against a hang, not a timing assertion
        using var request = new HttpRequestMessage(HttpMethod.Get, asLastEventId ? "/events/stream" : "/events/stream?after=7:4");
        if (asLastEventId)
        {
            request.Headers.Add("Last-Event-ID", "7:4");
        }

        using var response = await Api.Admin.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode); // before reading the body: a stream would not end
        var problem = await ApiServer.ExpectProblemAsync(response, HttpStatusCode.BadRequest, "InvalidRequest");
        var detail = problem.GetProperty("detail").GetString();
        Assert.StartsWith(asLastEventId ? "Last-Event-ID is ahead" : "after is ahead", detail, StringComparison.Ordinal);
        Assert.Contains("'7:4'", detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/events?after=0:1&after=1:1")]
    [InlineData("/events/stream?after=0:1&after=1:1")]
    public async Task A_cursor_sent_twice_is_400_rather_than_the_cursor_its_values_joined_by_a_comma_make(string path)
    {
        // Bound as one string, "0:1" and "1:1" would be joined into "0:1,1:1": a cursor neither of them is.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)); // a guard against a hang, not a timing assertion
        using var response = await Api.Admin.Http.GetAsync(new Uri(path, UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode); // before reading the body: a stream would not end
        await ApiServer.ExpectProblemAsync(response, HttpStatusCode.BadRequest, "InvalidRequest");
    }

    [Fact]
    public async Task A_Last_Event_ID_sent_on_two_header_lines_is_400()
    {
        // HttpClient folds repeated headers into one line ("0:1, 1:1", not a cursor); another client may not.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)); // a guard against a hang, not a timing assertion
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(Api.Address.Host, Api.Address.Port, timeout.Token);
        await using var stream = tcp.GetStream();
        var request =
            $"GET /events/stream HTTP/1.1\r\nHost: {Api.Address.Authority}\r\nAuthorization: Bearer {TestTokens.ForCatalogAdmin()}\r\n" +
            "Last-Event-ID: 0:1\r\nLast-Event-ID: 1:1\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(request), timeout.Token);
        using var reader = new StreamReader(stream);

        Assert.StartsWith("HTTP/1.1 400 ", await reader.ReadLineAsync(timeout.Token), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_stream_sends_what_is_there_then_each_new_event_with_its_cursor_as_id()
    {
        await Api.ChargeAsync(1, 100);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)); // a guard against a hang, not a timing assertion
        using var stream = await OpenStreamAsync(Api, timeout.Token);
        var (response, reader) = (stream.Response, stream.Reader);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);

        var first = await NextEventAsync(reader, timeout.Token);
        Assert.Equal("WalletCharged", first.Type);
        Assert.Equal(100, first.Data.GetProperty("amount").GetInt64());

        // Committed after the stream caught up: it arrives on the open stream.
        await Api.ChargeAsync(2, 250);
        var second = await NextEventAsync(reader, timeout.Token);
        Assert.Equal("WalletCharged", second.Type);
        Assert.Equal(250, second.Data.GetProperty("amount").GetInt64());

        // The id is the cursor covering the event: a page after it holds nothing.
        var after = await Api.Admin.GetJsonAsync($"/events?after={Uri.EscapeDataString(second.Id)}");
        Assert.Empty(after.GetProperty("events").EnumerateArray());
    }

    [Fact]
    public async Task A_reconnecting_stream_resumes_after_its_last_event_id()
    {
        await Api.ChargeAsync(1, 100);
        await Api.ChargeAsync(2, 200);
        var all = await AllEventsAsync();
        var cursorAfterFirst = (await Api.Admin.GetJsonAsync("/events?limit=1")).GetProperty("next").GetString()!;

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var stream = await OpenStreamAsync(Api, timeout.Token, lastEventId: cursorAfterFirst);
        var reader = stream.Reader;

        var resumed = await NextEventAsync(reader, timeout.Token);
        Assert.Equal(all[1].GetProperty("position").GetString(), resumed.Data.GetProperty("position").GetString());
    }

    [Fact]
    public async Task An_empty_Last_Event_ID_is_no_last_id_and_the_stream_starts_after_the_query_cursor()
    {
        // An empty Last-Event-ID names no event (in the SSE model an empty id resets the last one): the stream
        // starts after ?after=, rather than from the start, which would send again what the client has.
        await Api.ChargeAsync(1, 100);
        var head = (await Api.Admin.GetJsonAsync("/events?limit=1000")).GetProperty("next").GetString()!;

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)); // a guard against a hang, not a timing assertion
        using var stream = await OpenStreamAsync(Api, timeout.Token, lastEventId: "", after: head);
        Assert.Equal(HttpStatusCode.OK, stream.Response.StatusCode);

        await Api.ChargeAsync(2, 250);
        var first = await NextEventAsync(stream.Reader, timeout.Token);
        Assert.Equal(250, first.Data.GetProperty("amount").GetInt64());
    }

    [Fact]
    public async Task A_stream_ends_when_its_token_is_no_longer_accepted()
    {
        // The bearer handler accepts a token until its expiry plus a clock skew of 5 minutes (its default). The
        // stream ends then, rather than serving the feed for as long as the connection lasts: it counts on the
        // handler's clock, here a fake one (the token's own check reads the system clock, so the token is valid
        // when the stream opens).
        await using var server = await ApiServer.StartAsync();
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        server.Services.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>().Get(JwtBearerDefaults.AuthenticationScheme).TimeProvider = clock;
        var token = TestTokens.Create("back-office", roles: [TestTokens.CatalogAdminRole], expires: DateTime.UtcNow.AddHours(1));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)); // a guard against a hang, not a timing assertion
        using var request = new HttpRequestMessage(HttpMethod.Get, "/events/stream");
        using var response = await server.WithToken(token).Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode); // the stream's end is set: it is set before the headers go

        clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(1));
        var read = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token)).ReadToEndAsync(timeout.Token);
        Assert.False(read.IsCompleted); // still accepted for a second
        clock.Advance(TimeSpan.FromSeconds(2));
        await read;
    }

    [Fact]
    public async Task A_stream_at_the_head_opens_at_once_and_sends_a_comment_while_nothing_comes()
    {
        // Nothing to send: the status and headers still come at once (before, they waited for the first
        // event), then a comment line each time the stream has been silent for the keep-alive.
        await using var server = await ApiServer.StartAsync(null, "--Events:StreamKeepAlive=00:00:00.100");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)); // a guard against a hang, not a timing assertion
        using var stream = await OpenStreamAsync(server, timeout.Token);
        var (response, reader) = (stream.Response, stream.Reader);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);

        Assert.Equal(": keep-alive", await reader.ReadLineAsync(timeout.Token));
        Assert.Equal("", await reader.ReadLineAsync(timeout.Token));

        // An event committed meanwhile still comes, after whatever comments.
        await server.ChargeAsync(3, 300);
        var charged = await NextEventAsync(reader, timeout.Token);
        Assert.Equal("WalletCharged", charged.Type);
        Assert.Equal(300, charged.Data.GetProperty("amount").GetInt64());
    }

    private static Events.EventCursor EventCursorOf(string text) => Events.EventCursor.Parse(text);

    private static string[] Sorted(JsonElement[] events) =>
        [.. events.Select(e => e.GetProperty("type").GetString()!).Order(StringComparer.Ordinal)];

    private async Task<JsonElement[]> AllEventsAsync()
    {
        var page = await Api.Admin.GetJsonAsync("/events?limit=1000");
        return [.. page.GetProperty("events").EnumerateArray()];
    }

    /// <summary>Opens <c>GET /events/stream</c> as a catalog administrator, returning once the headers came.</summary>
    private static async Task<EventStream> OpenStreamAsync(ApiServer server, CancellationToken ct, string? lastEventId = null, string? after = null)
    {
        using var request = new HttpRequestMessage(
            HttpMethod.Get, after is null ? "/events/stream" : $"/events/stream?after={Uri.EscapeDataString(after)}");
        if (lastEventId is not null)
        {
            Assert.True(request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId)); // sent as given, even empty
        }

        var response = await server.Admin.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        return new EventStream(response, new StreamReader(await response.Content.ReadAsStreamAsync(ct)));
    }

    /// <summary>An open event stream: its response and a reader of its body.</summary>
    private sealed record EventStream(HttpResponseMessage Response, StreamReader Reader) : IDisposable
    {
        public void Dispose()
        {
            Reader.Dispose();
            Response.Dispose();
        }
    }

    /// <summary>Reads one server-sent event (its id, event type and JSON data).</summary>
    private static async Task<(string Id, string Type, JsonElement Data)> NextEventAsync(StreamReader reader, CancellationToken ct)
    {
        string? id = null, type = null, data = null;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length == 0)
            {
                if (data is not null)
                {
                    return (id!, type!, JsonDocument.Parse(data).RootElement.Clone());
                }

                continue;
            }

            if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = line[4..];
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                type = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data = line[6..];
            }
        }

        throw new EndOfStreamException("The event stream ended.");
    }
}
