using System.Text.Json;
using EdgeBridge.FunctionalTests.Common;

namespace EdgeBridge.FunctionalTests.Cluster;

/// <summary>
/// Many TypeScript clients (<c>clients/src/cluster.e2e.ts</c>, the published client library) in one Node process,
/// each from its own loopback address, through the balancer: every one follows a chat room from its start and every
/// tenth an account's order updates; a report says what each received.
/// </summary>
public sealed class ClientFleet : IAsyncDisposable
{
    private readonly ChildProcess _node;

    private ClientFleet(ChildProcess node) => _node = node;

    public static async Task<ClientFleet> StartAsync(string baseUrl, int clients, string room, Session orders)
    {
        var node = ChildProcess.Start("node", ["dist/src/cluster.e2e.js"], Path.Combine(Repository.Root, "clients"), new Dictionary<string, string>
        {
            ["EDGEBRIDGE_URL"] = baseUrl,
            ["CLIENTS"] = clients.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ROOM"] = room,
            ["TOKEN"] = orders.Token,
            ["ACCOUNT_ID"] = orders.AccountId,
        }, standardInput: true);
        var fleet = new ClientFleet(node);
        var started = await fleet.NextEventAsync("started");
        Assert.Equal(clients, started.GetProperty("clients").GetInt32());
        return fleet;
    }

    /// <summary>What every client has received so far.</summary>
    public async Task<IReadOnlyList<FleetClient>> ReportAsync()
    {
        await _node.WriteLineAsync("report");
        var report = await NextEventAsync("report");
        return report.GetProperty("clients").EnumerateArray().Select(FleetClient.From).ToList();
    }

    /// <summary>Waits until every client's report satisfies <paramref name="condition"/>.</summary>
    public Task<IReadOnlyList<FleetClient>> WaitUntilAsync(Func<FleetClient, bool> condition, string what, TimeSpan deadline) =>
        WaitUntilAsync((client, _) => condition(client), what, deadline);

    /// <summary>Waits until every client's report satisfies <paramref name="condition"/>, given with the client's index.</summary>
    public async Task<IReadOnlyList<FleetClient>> WaitUntilAsync(Func<FleetClient, int, bool> condition, string what, TimeSpan deadline)
    {
        IReadOnlyList<FleetClient> last = [];
        try
        {
            await Wait.UntilAsync(async () => (last = await ReportAsync()).Select(condition).All(met => met), what, deadline);
        }
        catch (TimeoutException ex)
        {
            var behind = last.Where((c, i) => !condition(c, i)).ToList();
            throw new TimeoutException($"{ex.Message}\n{behind.Count} of {last.Count} clients not there, e.g.:\n"
                + string.Join('\n', behind.Take(5)), ex);
        }

        return last;
    }

    private async Task<JsonElement> NextEventAsync(string name)
    {
        using var timeout = new CancellationTokenSource(Wait.Deadline);
        while (true)
        {
            string line;
            try
            {
                line = await _node.Lines.ReadAsync(timeout.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or System.Threading.Channels.ChannelClosedException)
            {
                throw new InvalidOperationException($"The client fleet did not answer '{name}':\n{_node.Tail}", ex);
            }

            if (line.StartsWith('{'))
            {
                using var json = JsonDocument.Parse(line);
                if (json.RootElement.GetProperty("event").GetString() == name)
                {
                    return json.RootElement.Clone();
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_node.HasExited)
        {
            await _node.WriteLineAsync("close");
        }

        await _node.DisposeAsync();
    }
}

/// <summary>One stream as a client received it.</summary>
public sealed record StreamTally(long First, long Last, int Count, int Gaps, int Duplicates)
{
    public static StreamTally? From(JsonElement element) => element.ValueKind == JsonValueKind.Null ? null : new(
        element.GetProperty("first").ValueKind == JsonValueKind.Null ? 0 : long.Parse(element.GetProperty("first").GetString()!, System.Globalization.CultureInfo.InvariantCulture),
        long.Parse(element.GetProperty("last").GetString()!, System.Globalization.CultureInfo.InvariantCulture),
        element.GetProperty("count").GetInt32(),
        element.GetProperty("gaps").GetInt32(),
        element.GetProperty("duplicates").GetInt32());
}

/// <summary>One client of the fleet: its chat room, its order updates (every tenth client), how often it reconnected.</summary>
public sealed record FleetClient(StreamTally Chat, StreamTally? Orders, long Quotes, int Reconnects, int Draining, IReadOnlyList<string> Closes, IReadOnlyList<string> Errors, string State)
{
    public override string ToString() =>
        $"chat {Chat}, orders {Orders}, {Quotes} quotes, {Reconnects} reconnects, {Draining} goaway, closes [{string.Join("; ", Closes)}], errors [{string.Join("; ", Errors)}], {State}";

    public static FleetClient From(JsonElement element) => new(
        StreamTally.From(element.GetProperty("chat"))!,
        StreamTally.From(element.GetProperty("orders")),
        element.GetProperty("quotes").GetInt64(),
        element.GetProperty("reconnects").GetInt32(),
        element.GetProperty("draining").GetInt32(),
        element.GetProperty("closes").EnumerateArray().Select(e => e.GetString()!).ToList(),
        element.GetProperty("errors").EnumerateArray().Select(e => e.GetString()!).ToList(),
        element.GetProperty("state").GetString()!);
}
