using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using EdgeBridge.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeBridge.Operations;

/// <summary>
/// Renders the <c>EdgeBridge</c> meter in the Prometheus text format at <c>/metrics</c>, with no exporter package:
/// counters and histograms are aggregated as they are recorded, observable instruments are read at scrape time.
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    private static readonly double[] s_buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(Instrument Instrument, string Labels), Series> _series = new();
    private readonly Lock _scrape = new();

    public PrometheusExporter(EdgeBridgeMetrics metrics)
    {
        // This host's meter only: listeners are process-wide, and a process may run several hosts (tests do).
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, metrics.Meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        // Listen from startup on: counters and histograms only see what happens while the listener runs.
        endpoints.ServiceProvider.GetRequiredService<PrometheusExporter>();
        endpoints.MapGet("/metrics", static context =>
        {
            SecurityHeaders.Apply(context);
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            context.Response.Headers.CacheControl = "no-store";
            return context.Response.WriteAsync(context.RequestServices.GetRequiredService<PrometheusExporter>().Scrape());
        });
    }

    public string Scrape()
    {
        lock (_scrape)
        {
            // Observable instruments report now; gauges and observable counters keep only the latest values.
            foreach (var stale in _series.Where(s => IsObservable(s.Key.Instrument)).Select(s => s.Key).ToList())
            {
                _series.TryRemove(stale, out _);
            }

            _listener.RecordObservableInstruments();
            var text = new StringBuilder();
            foreach (var instrument in _series.GroupBy(s => s.Key.Instrument).OrderBy(g => g.Key.Name, StringComparer.Ordinal))
            {
                var name = Name(instrument.Key);
                var type = instrument.Key switch
                {
                    Histogram<double> => "histogram",
                    ObservableCounter<long> or Counter<long> => "counter",
                    _ => "gauge",
                };
                text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {instrument.Key.Description}\n# TYPE {name} {type}\n");
                foreach (var (key, series) in instrument.OrderBy(s => s.Key.Labels, StringComparer.Ordinal))
                {
                    series.Write(text, name, key.Labels, type == "histogram");
                }
            }

            return text.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var labels = new StringBuilder();
        foreach (var tag in tags)
        {
            labels.Append(labels.Length == 0 ? "" : ",").Append(tag.Key).Append("=\"")
                .Append(Convert.ToString(tag.Value, CultureInfo.InvariantCulture)?.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)).Append('"');
        }

        var series = _series.GetOrAdd((instrument, labels.ToString()), static _ => new Series());
        series.Add(value, instrument is Histogram<double>, IsObservable(instrument));
    }

    private static bool IsObservable(Instrument instrument) => instrument.GetType().Name.StartsWith("Observable", StringComparison.Ordinal);

    private static string Name(Instrument instrument)
    {
        var name = instrument.Name.Replace('.', '_');
        if (instrument.Unit == "s")
        {
            name += "_seconds";
        }
        else if (instrument.Unit == "By")
        {
            name += "_bytes";
        }

        return instrument is ObservableCounter<long> or Counter<long> ? name + "_total" : name;
    }

    private sealed class Series
    {
        private readonly long[] _buckets = new long[s_buckets.Length];
        private double _sum;
        private long _count;

        public void Add(double value, bool histogram, bool observable)
        {
            lock (this)
            {
                if (observable)
                {
                    _sum = value;
                    return;
                }

                _sum += value;
                _count++;
                if (histogram)
                {
                    for (var i = 0; i < s_buckets.Length; i++)
                    {
                        if (value <= s_buckets[i])
                        {
                            _buckets[i]++;
                        }
                    }
                }
            }
        }

        public void Write(StringBuilder text, string name, string labels, bool histogram)
        {
            lock (this)
            {
                if (!histogram)
                {
                    text.Append(CultureInfo.InvariantCulture, $"{name}{Braces(labels)} {_sum}\n");
                    return;
                }

                var prefix = labels.Length == 0 ? "" : labels + ",";
                for (var i = 0; i < s_buckets.Length; i++)
                {
                    text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{prefix}le=\"{s_buckets[i]}\"}} {_buckets[i]}\n");
                }

                text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{prefix}le=\"+Inf\"}} {_count}\n");
                text.Append(CultureInfo.InvariantCulture, $"{name}_sum{Braces(labels)} {_sum}\n{name}_count{Braces(labels)} {_count}\n");
            }
        }

        private static string Braces(string labels) => labels.Length == 0 ? "" : "{" + labels + "}";
    }
}
