using System.Globalization;

namespace EdgeBridge.Benchmarks.Load;

/// <summary>CPU time and resident memory of a process, read from /proc.</summary>
internal readonly record struct ProcessStats(TimeSpan Cpu, long RssBytes)
{
    private static readonly long s_ticksPerSecond = 100; // USER_HZ on Linux

    public static ProcessStats Read(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // Fields after the command name (which may contain spaces) start after the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        var rss = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        var kb = long.Parse(rss.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return new ProcessStats(TimeSpan.FromSeconds((double)ticks / s_ticksPerSecond), kb * 1024);
    }
}
