using HdrHistogram;

namespace EdgeBridge.Benchmarks.Load;

/// <summary>
/// Latencies in microseconds, recorded from many threads into one HdrHistogram (three significant digits, 1 µs to
/// an hour): memory is fixed however many values are recorded, and percentiles are exact to 0.1 %.
/// </summary>
internal sealed class Latencies
{
    private static readonly long s_highest = (long)TimeSpan.FromHours(1).TotalMicroseconds;
    private readonly LongConcurrentHistogram _histogram = new(1, s_highest, 3);

    public long Count => _histogram.TotalCount;

    public void Record(TimeSpan latency) => Record((long)latency.TotalMicroseconds);

    /// <summary>Records a value in microseconds; values outside 1 µs – 1 h are clamped (a clock step must not throw).</summary>
    public void Record(long micros) => _histogram.RecordValue(Math.Clamp(micros, 1, s_highest));

    /// <summary>The value at <paramref name="percentile"/> (0–100) in microseconds; 0 when nothing was recorded.</summary>
    public int Percentile(double percentile) => Count == 0 ? 0 : (int)_histogram.GetValueAtPercentile(percentile);
}
