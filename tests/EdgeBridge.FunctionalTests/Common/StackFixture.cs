using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;

namespace EdgeBridge.FunctionalTests.Common;

/// <summary>A running stack — the backend and the edge in front of it — plus clients for both of the edge's ports.</summary>
public class StackFixture : IAsyncLifetime
{
    public BackendServer Backend { get; } = new();

    public EdgeServer Edge { get; } = new();

    /// <summary>REST client of the edge's HTTP/1.1 port.</summary>
    public HttpClient Rest { get; private set; } = null!;

    /// <summary>gRPC channel to the edge's h2c port.</summary>
    public GrpcChannel Grpc { get; private set; } = null!;

    /// <summary>Configuration a derived fixture overrides on the edge (e.g. tighter limits).</summary>
    protected virtual IDictionary<string, string?>? EdgeSettings => null;

    /// <summary>Configuration a derived fixture overrides on the backend (e.g. a faster market).</summary>
    protected virtual IDictionary<string, string?>? BackendSettings => null;

    public virtual async Task InitializeAsync()
    {
        await Backend.StartAsync(BackendSettings);
        await Edge.StartAsync(Backend, EdgeSettings);
        Rest = new HttpClient { BaseAddress = new Uri(Edge.HttpAddress), Timeout = TimeSpan.FromSeconds(30) };
        Grpc = GrpcChannel.ForAddress(Edge.GrpcAddress, new GrpcChannelOptions { MaxRetryAttempts = 0 });
    }

    public virtual async Task DisposeAsync()
    {
        Rest.Dispose();
        Grpc.Dispose();
        await Edge.DisposeAsync();
        await Backend.DisposeAsync();
    }

    public async Task<Session> LoginAsync(string username = "alice", string password = "wonderland")
    {
        using var response = await Rest.PostAsJsonAsync("/v1/auth/login", new { username, password });
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return new Session(json.RootElement.GetProperty("accessToken").GetString()!, json.RootElement.GetProperty("accountId").GetString()!);
    }

    public static HttpRequestMessage Request(HttpMethod method, string path, Session? session = null, object? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (session is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", session.Token);
        }

        if (body is not null)
        {
            request.Content = body is string raw
                ? new StringContent(raw, System.Text.Encoding.UTF8, "application/json")
                : JsonContent.Create(body);
        }

        return request;
    }

    public async Task<(HttpResponseMessage Response, JsonElement Json)> SendAsync(HttpMethod method, string path, Session? session = null, object? body = null)
    {
        using var request = Request(method, path, session, body);
        var response = await Rest.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var json = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return (response, json);
    }
}

/// <summary>A logged-in user.</summary>
public sealed record Session(string Token, string AccountId)
{
    public Metadata Headers => new() { { "authorization", "Bearer " + Token } };
}
