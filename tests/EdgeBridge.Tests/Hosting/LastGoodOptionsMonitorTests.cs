using EdgeBridge.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Tests.Hosting;

public sealed class LastGoodOptionsMonitorTests
{
    private sealed class Limits
    {
        public int MaxFrames { get; set; } = 1;
    }

    // A configuration source whose reload the test triggers, as a watched file's would be.
    private sealed class Reloadable : ConfigurationProvider, IConfigurationSource
    {
        public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

        public void Set(string value)
        {
            Data["MaxFrames"] = value;
            OnReload();
        }
    }

    private static (IOptionsMonitor<Limits> Monitor, Reloadable Source) Create(string initial = "5")
    {
        var source = new Reloadable();
        source.Set(initial);
        var configuration = new ConfigurationBuilder().Add(source).Build();
        var services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddOptions<Limits>().Bind(configuration).Validate(l => l.MaxFrames > 0, "MaxFrames must be greater than 0.");
        services.AddSingleton<IOptionsMonitor<Limits>, LastGoodOptionsMonitor<Limits>>();
        return (services.BuildServiceProvider().GetRequiredService<IOptionsMonitor<Limits>>(), source);
    }

    private static (IOptionsMonitor<Limits> Monitor, Reloadable Source) Started()
    {
        // ValidateOnStart reads the options once when the host starts.
        var (monitor, source) = Create();
        Assert.Equal(5, monitor.CurrentValue.MaxFrames);
        return (monitor, source);
    }

    [Fact]
    public void ValidReload_Applies_AndIsAnnounced()
    {
        var (monitor, source) = Started();
        var announced = new List<int>();
        using var _ = monitor.OnChange((limits, _) => announced.Add(limits.MaxFrames));

        source.Set("7");

        Assert.Equal(7, monitor.CurrentValue.MaxFrames);
        Assert.Equal([7], announced);
    }

    [Theory]
    [InlineData("0")]      // fails validation
    [InlineData("lots")]   // does not bind
    public void RejectedReload_KeepsTheLastGoodValues_AndALaterValidOneStillApplies(string bad)
    {
        var (monitor, source) = Started();
        var announced = new List<int>();
        using var _ = monitor.OnChange((limits, _) => announced.Add(limits.MaxFrames));

        source.Set(bad);
        Assert.Equal(5, monitor.CurrentValue.MaxFrames);
        Assert.Empty(announced);

        source.Set("9");
        Assert.Equal(9, monitor.CurrentValue.MaxFrames);
        Assert.Equal([9], announced);
    }

    [Fact]
    public void InvalidFirstBuild_Throws_SoTheHostDoesNotStart()
    {
        var (monitor, _) = Create(initial: "0");

        Assert.Throws<OptionsValidationException>(() => monitor.CurrentValue);
    }
}
