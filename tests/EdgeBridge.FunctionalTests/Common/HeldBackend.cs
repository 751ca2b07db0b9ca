using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace EdgeBridge.FunctionalTests.Common;

/// <summary>
/// A real Kestrel h2c server that holds every request until the test releases it, so a request can be kept
/// in flight through the edge for as long as a test needs; it also sees when the edge gives up on a request.
/// </summary>
public sealed class HeldBackend : IAsyncDisposable
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _aborted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication? _app;

    public string Address { get; private set; } = "";

    /// <summary>Completes when the first request arrives.</summary>
    public Task Arrived => _arrived.Task;

    /// <summary>Completes when a held request is aborted by its caller.</summary>
    public Task Aborted => _aborted.Task;

    public async Task StartAsync()
    {
        // Not the test folder as content root: the appsettings.json there names the edge's fixed ports.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = Path.GetTempPath() });
        // HTTP/2 (h2c): a caller giving up resets the stream, which the server sees at once. Over HTTP/1.1 it
        // would only see the connection close on its next read or write.
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(endpoint => endpoint.Protocols = HttpProtocols.Http2));
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.Run(async context =>
        {
            _arrived.TrySetResult();
            var abort = Task.Delay(Timeout.Infinite, context.RequestAborted);
            if (await Task.WhenAny(_release.Task, abort) == abort)
            {
                _aborted.TrySetResult();
                return;
            }

            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"held":"released"}""");
        });
        await _app.StartAsync();
        Address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    }

    public void Release() => _release.TrySetResult();

    public async ValueTask DisposeAsync()
    {
        Release();
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }
}
