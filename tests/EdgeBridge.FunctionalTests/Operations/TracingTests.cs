using System.Diagnostics;
using EdgeBridge.FunctionalTests.Common;
using OpenTelemetry.Trace;
using StatusCode = Grpc.Core.StatusCode;

namespace EdgeBridge.FunctionalTests.Operations;

/// <summary>
/// OpenTelemetry traces as an operator's tracing backend would receive them from the edge host's own wiring:
/// REST and gRPC requests continue the caller's trace through the edge into the backend, and each WebSocket
/// subscription is a span linked to its connection and to the upstream call whose trace reaches the backend.
/// </summary>
public sealed class TracingTests(TracingTests.Fixture stack) : IClassFixture<TracingTests.Fixture>
{
    private const string AspNetCore = "Microsoft.AspNetCore";

    [Fact]
    public async Task RestRequest_ContinuesTheCallersTrace_ThroughTheEdge_IntoTheBackend()
    {
        using var caller = StartCallerSpan();

        using var response = await stack.Rest.GetAsync("/v1/quotes/ACME");

        response.EnsureSuccessStatusCode();
        var backend = await WaitForServerSpanAsync(caller.TraceId, stack.Backend.RestPort);
        var edge = await WaitForServerSpanAsync(caller.TraceId, stack.Edge.HttpPort);
        AssertDescendant(edge, caller, [caller, .. stack.Spans.InTrace(caller.TraceId)]);
        AssertDescendant(backend, edge, stack.Spans.InTrace(caller.TraceId));
    }

    [Fact]
    public async Task GrpcCall_ContinuesTheCallersTrace_ThroughTheEdge_IntoTheBackend()
    {
        using var caller = StartCallerSpan();
        var client = new Trading.V1.MarketDataService.MarketDataServiceClient(stack.Grpc);

        await client.GetQuoteAsync(new Trading.V1.GetQuoteRequest { Symbol = "ACME" });

        var backend = await WaitForServerSpanAsync(caller.TraceId, stack.Backend.GrpcPort);
        var edge = await WaitForServerSpanAsync(caller.TraceId, stack.Edge.GrpcPort);
        AssertDescendant(edge, caller, [caller, .. stack.Spans.InTrace(caller.TraceId)]);
        AssertDescendant(backend, edge, stack.Spans.InTrace(caller.TraceId));
    }

    [Fact]
    public async Task SharedSubscriptions_EachHaveASpan_LinkedToTheOneUpstreamCall_WhoseTraceReachesTheBackend()
    {
        var ids = new[] { "quotes-" + Guid.NewGuid().ToString("N"), "quotes-" + Guid.NewGuid().ToString("N") };
        foreach (var id in ids)
        {
            await using var socket = (await EdgeSocket.OpenAsync(stack.Edge)).Socket;
            await socket.SubscribeAsync(id, "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "INIT" } });
            await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == id);

            // Both subscriptions must be live at once to share: the second socket subscribes inside the first's scope.
            if (id == ids[0])
            {
                await using var second = (await EdgeSocket.OpenAsync(stack.Edge)).Socket;
                await second.SubscribeAsync(ids[1], "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "INIT" } });
                await second.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == ids[1]);
                break;
            }
        }

        var subscriptions = new List<Activity>();
        foreach (var id in ids)
        {
            subscriptions.Add(await WaitForAsync(() => SubscriptionSpan(id), $"the span of subscription {id}"));
        }

        var upstreamLinks = subscriptions.Select(s => UpstreamLink(s)).ToList();
        Assert.All(upstreamLinks, link => Assert.Equal(upstreamLinks[0], link));
        var upstream = await WaitForAsync(() => stack.Spans.Snapshot().SingleOrDefault(s => s.Context.SpanId == upstreamLinks[0].SpanId && s.TraceId == upstreamLinks[0].TraceId),
            "the shared upstream call's span, ended with its last subscriber");
        Assert.Equal(ActivityKind.Client, upstream.Kind);
        Assert.Equal("trading.v1.MarketDataService/StreamQuotes", upstream.DisplayName);
        Assert.Equal(default, upstream.ParentSpanId);
        var backend = await WaitForServerSpanAsync(upstream.TraceId, stack.Backend.GrpcPort);
        AssertDescendant(backend, upstream, stack.Spans.InTrace(upstream.TraceId));

        foreach (var subscription in subscriptions)
        {
            Assert.Equal(ActivityKind.Server, subscription.Kind);
            Assert.Equal("subscribe trading.v1.MarketDataService/StreamQuotes", subscription.DisplayName);
            Assert.Equal((int)StatusCode.Cancelled, subscription.GetTagItem("rpc.grpc.status_code"));
            Assert.True((long)subscription.GetTagItem("edgebridge.messages.delivered")! >= 1);

            // And to the connection's upgrade request.
            var link = Link(subscription, "connection");
            var connection = await WaitForAsync(() => stack.Spans.Snapshot().FirstOrDefault(s => s.Context == link), "the connection's span");
            Assert.Equal(ActivityKind.Server, connection.Kind);
        }
    }

    [Fact]
    public async Task PerCallerSubscription_OwnsItsUpstreamCall_AndTheBackendSpanIsInItsTrace()
    {
        var session = await stack.LoginAsync();
        var id = "orders-" + Guid.NewGuid().ToString("N");
        await using (var socket = (await EdgeSocket.OpenAsync(stack.Edge, session.Token)).Socket)
        {
            await socket.SubscribeAsync(id, "trading.v1.TradingService/StreamOrderUpdates", new { accountId = session.AccountId });
            await stack.SendAsync(HttpMethod.Post, $"/v1/accounts/{session.AccountId}/orders", session, new { symbol = "ACME", side = "ORDER_SIDE_BUY", quantity = "1" });
            await socket.ReceiveUntilAsync(f => f.Type() == "next" && f.Id() == id);
            await socket.SendAsync(new { type = "unsubscribe", id });
            await socket.ReceiveUntilAsync(f => f.Type() == "complete" && f.Id() == id);
        }

        var subscription = await WaitForAsync(() => SubscriptionSpan(id), "the subscription's span");
        var upstream = await WaitForAsync(() => stack.Spans.InTrace(subscription.TraceId).SingleOrDefault(s =>
            s.Source.Name == EdgeBridgeDiagnostics.ActivitySourceName && s.Kind == ActivityKind.Client), "the upstream call's span");
        Assert.Equal(subscription.SpanId, upstream.ParentSpanId);
        Assert.Equal(upstream.Context, UpstreamLink(subscription));
        var backend = await WaitForServerSpanAsync(subscription.TraceId, stack.Backend.GrpcPort);
        AssertDescendant(backend, upstream, stack.Spans.InTrace(subscription.TraceId));
        Assert.Equal((int)StatusCode.Cancelled, subscription.GetTagItem("rpc.grpc.status_code"));
    }

    [Fact]
    public async Task FailedSubscription_SpanCarriesTheGrpcStatus()
    {
        var alice = await stack.LoginAsync();
        var id = "denied-" + Guid.NewGuid().ToString("N");
        await using (var socket = (await EdgeSocket.OpenAsync(stack.Edge, alice.Token)).Socket)
        {
            await socket.SubscribeAsync(id, "trading.v1.TradingService/StreamOrderUpdates", new { accountId = "acc-bob" });
            var (error, _) = await socket.ReceiveUntilAsync(f => f.Id() == id && f.Type() == "error");
            Assert.Equal((int)StatusCode.PermissionDenied, error.Code());
        }

        var subscription = await WaitForAsync(() => SubscriptionSpan(id), "the failed subscription's span");
        Assert.Equal((int)StatusCode.PermissionDenied, subscription.GetTagItem("rpc.grpc.status_code"));
        Assert.Equal(ActivityStatusCode.Error, subscription.Status);
    }

    private Activity? SubscriptionSpan(string id) => stack.Spans.Snapshot().SingleOrDefault(s =>
        s.Source.Name == EdgeBridgeDiagnostics.ActivitySourceName && (string?)s.GetTagItem("edgebridge.subscription.id") == id);

    private static ActivityContext UpstreamLink(Activity subscription) => Link(subscription, "upstream");

    private static ActivityContext Link(Activity subscription, string kind) =>
        subscription.Links.Single(l => l.Tags?.Any(t => t.Key == "edgebridge.link" && (string?)t.Value == kind) == true).Context;

    private Task<Activity> WaitForServerSpanAsync(ActivityTraceId traceId, int port) => WaitForAsync(
        () => stack.Spans.InTrace(traceId).FirstOrDefault(s => s.Source.Name == AspNetCore && s.Kind == ActivityKind.Server && Equals(s.GetTagItem("server.port"), port)),
        $"a server span on port {port} in trace {traceId}");

    private static async Task<Activity> WaitForAsync(Func<Activity?> find, string what)
    {
        Activity? found = null;
        await Wait.UntilAsync(() => (found = find()) is not null, what);
        return found!;
    }

    /// <summary>The caller's own span: current while the test calls, as it would be in an instrumented client.</summary>
    private static Activity StartCallerSpan()
    {
        var caller = new Activity("test caller");
        caller.SetIdFormat(ActivityIdFormat.W3C);
        caller.ActivityTraceFlags = ActivityTraceFlags.Recorded;
        return caller.Start();
    }

    private static void AssertDescendant(Activity descendant, Activity ancestor, IReadOnlyList<Activity> trace)
    {
        var bySpan = trace.ToDictionary(s => s.SpanId);
        var current = descendant;
        while (current.ParentSpanId != ancestor.SpanId)
        {
            Assert.True(bySpan.TryGetValue(current.ParentSpanId, out var parent),
                $"{descendant.DisplayName} is not a descendant of {ancestor.DisplayName}: the chain breaks at {current.DisplayName}. Trace: "
                + string.Join(" | ", trace.Select(s => $"{s.Source.Name} {s.Kind} {s.DisplayName} {s.SpanId}<-{s.ParentSpanId}")));
            current = parent;
        }
    }

    public sealed class Fixture : StackFixture
    {
        public SpanCollection Spans { get; } = new();

        // No OTLP endpoint here: tracing is switched on for the test's own exporter.
        protected override IDictionary<string, string?>? EdgeSettings => new Dictionary<string, string?> { ["Telemetry:Tracing"] = "true" };

        public override Task InitializeAsync()
        {
            Edge.ConfigureServices = services => services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(Spans));
            return base.InitializeAsync();
        }
    }
}

/// <summary>Without an exporter the edge records no spans: nobody would see them, and open ones cost memory.</summary>
public sealed class TracingSwitchTests(StackFixture stack) : IClassFixture<StackFixture>
{
    [Fact]
    public async Task NoExporterConfigured_NoTracerProvider_AndSubscriptionsStillWork()
    {
        Assert.Null(stack.Edge.Services.GetService<OpenTelemetry.Trace.TracerProvider>());

        var (socket, _) = await EdgeSocket.OpenAsync(stack.Edge);
        await using var _1 = socket;
        await socket.SubscribeAsync("q", "trading.v1.MarketDataService/StreamQuotes", new { symbols = new[] { "WONK" } });
        var (next, _) = await socket.ReceiveUntilAsync(f => f.Type() == "next");
        Assert.Equal("q", next.Id());
    }
}
