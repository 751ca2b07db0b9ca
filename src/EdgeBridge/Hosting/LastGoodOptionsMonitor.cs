using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace EdgeBridge.Hosting;

/// <summary>
/// An options monitor that keeps serving the last options that passed validation when a reload does not.
/// </summary>
/// <remarks>
/// The platform's <c>OptionsMonitor</c> evicts its cached value before it builds and validates the replacement
/// (dotnet/runtime#44381): one bad edit to a watched <c>appsettings.json</c> throws on the file watcher's thread,
/// never raises <c>OnChange</c>, and makes every later <c>CurrentValue</c> throw — every request and every new
/// WebSocket would fail until the file is fixed. A running edge must not fall over because of a typo, so a
/// rejected reload is logged with the keys that failed and the previous values stay. Validation at start is
/// unchanged: the first build throws, and <c>ValidateOnStart</c> stops the host with the message.
/// </remarks>
internal sealed partial class LastGoodOptionsMonitor<TOptions> : IOptionsMonitor<TOptions>, IDisposable
    where TOptions : class
{
    private readonly IOptionsFactory<TOptions> _factory;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, TOptions> _current = new(StringComparer.Ordinal);
    private readonly List<IDisposable> _registrations = [];
    private readonly Func<string, TOptions> _create;
    private TOptions? _default;
    private event Action<TOptions, string?>? Changed;

    public LastGoodOptionsMonitor(
        IOptionsFactory<TOptions> factory,
        IEnumerable<IOptionsChangeTokenSource<TOptions>> sources,
        ILogger<LastGoodOptionsMonitor<TOptions>> logger)
    {
        _factory = factory;
        _create = factory.Create;
        _logger = logger;
        foreach (var source in sources)
        {
            _registrations.Add(ChangeToken.OnChange(source.GetChangeToken, Reload, source.Name));
        }
    }

    // Read on every request: a field, not a lookup and a delegate per read.
    public TOptions CurrentValue => Volatile.Read(ref _default) ?? Get(Options.DefaultName);

    // The first build of a name is not caught: at start an invalid configuration must stop the host.
    public TOptions Get(string? name)
    {
        name ??= Options.DefaultName;
        var options = _current.GetOrAdd(name, _create);
        if (name == Options.DefaultName)
        {
            // Only the first build: a reload racing this read must not be overwritten with what it replaced.
            Interlocked.CompareExchange(ref _default, options, null);
        }

        return options;
    }

    public IDisposable OnChange(Action<TOptions, string?> listener)
    {
        Changed += listener;
        return new Subscription(this, listener);
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
    }

    private void Reload(string? name)
    {
        name ??= Options.DefaultName;
        TOptions options;
        try
        {
            options = _factory.Create(name);
        }
        catch (OptionsValidationException rejected)
        {
            Log.ReloadRejected(_logger, typeof(TOptions).Name, string.Join(" ", rejected.Failures));
            return;
        }
        catch (InvalidOperationException unbindable)
        {
            // The binder throws this for a value that does not convert ("MaxFrameBytes": "lots").
            Log.ReloadRejected(_logger, typeof(TOptions).Name, unbindable.Message);
            return;
        }

        _current[name] = options;
        if (name == Options.DefaultName)
        {
            Volatile.Write(ref _default, options);
        }

        Changed?.Invoke(options, name);
    }

    private sealed class Subscription(LastGoodOptionsMonitor<TOptions> monitor, Action<TOptions, string?> listener) : IDisposable
    {
        public void Dispose() => monitor.Changed -= listener;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Reloaded configuration rejected; {Options} keeps its previous values. {Failures}", EventName = "ConfigurationReloadRejected")]
        public static partial void ReloadRejected(ILogger logger, string options, string failures);
    }
}
