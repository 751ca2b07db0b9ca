using System.Globalization;
using System.Net;
using System.Text;

namespace EdgeBridge.Benchmarks.Report;

/// <summary>One bar: its label, the series that colours it (a system, a mode), its length and the text beside it.</summary>
internal readonly record struct Bar(string Label, string Series, double Value, string Text);

/// <summary>Horizontal bar charts as plain SVG, so the report's figures need nothing but the harness to draw.</summary>
internal static class Chart
{
    private static readonly Dictionary<string, string> s_colors = new(StringComparer.Ordinal)
    {
        ["edgebridge"] = "#2f81f7",
        ["raw"] = "#8b949e",
        ["signalr"] = "#d29922",
    };

    private static readonly string[] s_palette = ["#2f81f7", "#d29922", "#8b949e", "#3fb950", "#a371f7"];

    /// <summary>A chart with one bar per row; <paramref name="note"/> (e.g. "shorter is better") follows the title.</summary>
    public static string Bars(string title, string note, IReadOnlyList<Bar> bars)
    {
        const int BarHeight = 18;
        const int Gap = 6;
        const int LabelWidth = 230;
        const int Length = 400;
        var max = bars.Count == 0 ? 1 : Math.Max(double.Epsilon, bars.Max(b => b.Value));
        var others = bars.Select(b => b.Series).Distinct().Where(s => !s_colors.ContainsKey(s)).ToList();
        string Color(string series) => s_colors.TryGetValue(series, out var color) ? color : s_palette[others.IndexOf(series) % s_palette.Length];

        var svg = new StringBuilder();
        svg.AppendLine(CultureInfo.InvariantCulture,
            $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{LabelWidth + Length + 120}\" height=\"{44 + bars.Count * (BarHeight + Gap)}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine(CultureInfo.InvariantCulture, $"<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"10\" y=\"20\"><tspan font-weight=\"bold\">{Escape(title)}</tspan> <tspan fill=\"#57606a\">({Escape(note)})</tspan></text>");
        var y = 36;
        foreach (var bar in bars)
        {
            var width = Math.Max(1, (int)(Length * bar.Value / max));
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"10\" y=\"{y + 13}\">{Escape(bar.Label)}</text>");
            svg.AppendLine(CultureInfo.InvariantCulture, $"<rect x=\"{LabelWidth}\" y=\"{y}\" width=\"{width}\" height=\"{BarHeight}\" fill=\"{Color(bar.Series)}\"/>");
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{LabelWidth + width + 5}\" y=\"{y + 13}\">{Escape(bar.Text)}</text>");
            y += BarHeight + Gap;
        }

        return svg.AppendLine("</svg>").ToString();
    }

    private static string Escape(string text) => WebUtility.HtmlEncode(text);
}
