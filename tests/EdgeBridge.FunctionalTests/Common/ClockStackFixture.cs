using System.Globalization;
using Microsoft.Extensions.Time.Testing;

namespace EdgeBridge.FunctionalTests.Common;

/// <summary>
/// An edge whose clock is the test's: time passes only when the test advances it. Its socket frame budget is five
/// a second, so that crossing it takes few frames.
/// </summary>
public class ClockStackFixture : StackFixture
{
    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    protected override IDictionary<string, string?> EdgeSettings => new Dictionary<string, string?>
    {
        ["EdgeBridge:WebSockets:MaxInboundFramesPerSecond"] = FrameBudget.ToString(CultureInfo.InvariantCulture),
        ["EdgeBridge:WebSockets:InboundFrameBurst"] = FrameBudget.ToString(CultureInfo.InvariantCulture),
        ["EdgeBridge:WebSockets:KeepAliveInterval"] = KeepAlive.ToString(),
        ["EdgeBridge:WebSockets:KeepAliveTimeout"] = KeepAlive.ToString(),
        ["EdgeBridge:Logins:PerUserAtAddress:Failures"] = "2",
        ["EdgeBridge:Logins:PerUserAtAddress:Window"] = "00:01:00",
    };

    /// <summary>The keepalive interval and timeout; a fixture that jumps far ahead makes it longer than its jumps.</summary>
    protected virtual TimeSpan KeepAlive => TimeSpan.FromSeconds(20);

    /// <summary>Frames per second (and burst) a socket may send.</summary>
    protected virtual int FrameBudget => 5;

    public override Task InitializeAsync()
    {
        Edge.ConfigureServices = services => services.AddSingleton<TimeProvider>(Clock);
        return base.InitializeAsync();
    }
}

/// <summary>A fake-clock edge for long jumps: its keepalive outlasts them, and its sockets may send as usual.</summary>
public sealed class LongJumpClockStackFixture : ClockStackFixture
{
    protected override TimeSpan KeepAlive => TimeSpan.FromHours(1);

    protected override int FrameBudget => 100;
}
