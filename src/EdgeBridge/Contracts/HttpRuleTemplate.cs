using Google.Api;

namespace EdgeBridge.Contracts;

/// <summary>
/// One <c>google.api.http</c> binding of a method, compiled: its HTTP method and path template
/// (<c>/v1/accounts/{account_id}/orders/{order_id}:cancel</c>), matched against request paths without allocating.
/// Supports what the HTTP rule grammar allows: literals, <c>*</c>, a trailing <c>**</c>, variables over one segment
/// (<c>{name}</c>, <c>{name=*}</c>) or over a pattern (<c>{name=shelves/*}</c>, <c>{name=**}</c>), and a verb.
/// </summary>
internal sealed class HttpRuleTemplate
{
    private readonly Segment[] _segments;
    private readonly string? _verb;

    private HttpRuleTemplate(string httpMethod, string template, Segment[] segments, string? verb, string body)
    {
        HttpMethod = httpMethod;
        Template = template;
        _segments = segments;
        _verb = verb;
        Body = body;
    }

    public string HttpMethod { get; }

    public string Template { get; }

    /// <summary>The rule's <c>body</c>: <c>*</c>, a field name, or empty (no body).</summary>
    public string Body { get; }

    /// <summary>The rule's <c>response_body</c>: the response field that is the HTTP body, or empty (the whole response).</summary>
    public string ResponseBody { get; private set; } = "";

    /// <summary>Every binding of <paramref name="rule"/>, its additional bindings included; malformed templates are skipped.</summary>
    public static IEnumerable<HttpRuleTemplate> FromRule(HttpRule rule)
    {
        if (Compile(rule) is { } primary)
        {
            yield return primary;
        }

        foreach (var additional in rule.AdditionalBindings)
        {
            if (Compile(additional) is { } binding)
            {
                yield return binding;
            }
        }
    }

    private static HttpRuleTemplate? Compile(HttpRule rule)
    {
        var template = PatternOf(rule) is var (method, path) ? Parse(method, path, rule.Body) : null;
        if (template is not null)
        {
            template.ResponseBody = rule.ResponseBody;
        }

        return template;
    }

    /// <summary>The HTTP method (upper case) and path template of one binding; null when it has no pattern.</summary>
    public static (string Method, string Path)? PatternOf(HttpRule rule) => rule.PatternCase switch
    {
        HttpRule.PatternOneofCase.Get => ("GET", rule.Get),
        HttpRule.PatternOneofCase.Put => ("PUT", rule.Put),
        HttpRule.PatternOneofCase.Post => ("POST", rule.Post),
        HttpRule.PatternOneofCase.Delete => ("DELETE", rule.Delete),
        HttpRule.PatternOneofCase.Patch => ("PATCH", rule.Patch),
        HttpRule.PatternOneofCase.Custom => (rule.Custom.Kind.ToUpperInvariant(), rule.Custom.Path),
        _ => null,
    };

    /// <summary>Parses a path template; null when it is not one the grammar allows.</summary>
    public static HttpRuleTemplate? Parse(string httpMethod, string template, string body = "")
    {
        if (!template.StartsWith('/'))
        {
            return null;
        }

        var path = template[1..];
        string? verb = null;
        var lastSlash = path.LastIndexOf('/');
        var colon = path.IndexOf(':', lastSlash + 1);
        var closing = path.LastIndexOf('}');
        if (colon >= 0 && colon > closing)
        {
            verb = path[(colon + 1)..];
            path = path[..colon];
        }

        var segments = new List<Segment>();
        var variables = new List<string>();
        var at = 0;
        while (at <= path.Length)
        {
            if (at < path.Length && path[at] == '{')
            {
                var end = path.IndexOf('}', at);
                if (end < 0)
                {
                    return null;
                }

                var variable = path[(at + 1)..end];
                var equals = variable.IndexOf('=');
                var name = equals < 0 ? variable : variable[..equals];
                var pattern = equals < 0 ? "*" : variable[(equals + 1)..];
                foreach (var part in pattern.Split('/'))
                {
                    segments.Add(part switch
                    {
                        "*" => new Segment(SegmentKind.Single, null, pattern == "*" ? name : null, name),
                        "**" => new Segment(SegmentKind.Rest, null, null, name),
                        _ => new Segment(SegmentKind.Literal, part, null, name),
                    });
                }

                variables.Add(name);

                at = end + 1;
                if (at < path.Length && path[at] != '/')
                {
                    return null;
                }

                at++;
                continue;
            }

            var slash = path.IndexOf('/', at);
            var literal = slash < 0 ? path[at..] : path[at..slash];
            segments.Add(literal switch
            {
                "*" => new Segment(SegmentKind.Single, null, null),
                "**" => new Segment(SegmentKind.Rest, null, null),
                "" => new Segment(SegmentKind.Literal, "", null),
                _ => new Segment(SegmentKind.Literal, literal, null),
            });
            at = slash < 0 ? path.Length + 1 : slash + 1;
        }

        // '**' matches the rest of the path, so it can only come last.
        for (var i = 0; i < segments.Count - 1; i++)
        {
            if (segments[i].Kind == SegmentKind.Rest)
            {
                return null;
            }
        }

        return new HttpRuleTemplate(httpMethod, template, [.. segments], verb, body) { Variables = variables };
    }

    /// <summary>
    /// The template with its variables' names taken out (<c>GET /v1/items/*</c> for <c>/v1/items/{id}</c>): two
    /// bindings of the same shape match the same requests, so they cannot both be served.
    /// </summary>
    public string Shape => HttpMethod + " /" + string.Join('/', _segments.Select(s => s.Kind switch
    {
        SegmentKind.Literal => s.Literal,
        SegmentKind.Single => "*",
        _ => "**",
    })) + (_verb is null ? "" : ":" + _verb);

    /// <summary>The field paths the template binds (<c>account_id</c>, <c>name</c> of <c>{name=shelves/*}</c>), in order.</summary>
    public IReadOnlyList<string> Variables { get; private init; } = [];

    /// <summary>
    /// The values of every variable when <paramref name="path"/> matches, each percent-decoded (a variable over several
    /// segments keeps its slashes, as grpc-gateway and ASP.NET transcoding do); null when it does not match.
    /// </summary>
    public Dictionary<string, string>? Bind(string path)
    {
        if (!Matches(path))
        {
            return null;
        }

        var rest = path[1..];
        if (_verb is not null)
        {
            rest = rest[..^(_verb.Length + 1)];
        }

        var parts = rest.Split('/');
        var values = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        for (var i = 0; i < _segments.Length; i++)
        {
            var segment = _segments[i];
            if (segment.Owner is null)
            {
                continue;
            }

            var list = values.TryGetValue(segment.Owner, out var found) ? found : values[segment.Owner] = [];
            if (segment.Kind == SegmentKind.Rest)
            {
                list.AddRange(parts.Skip(i));
                break;
            }

            list.Add(parts[i]);
        }

        return values.ToDictionary(p => p.Key, p => Uri.UnescapeDataString(string.Join('/', p.Value)), StringComparer.Ordinal);
    }

    /// <summary>Whether <paramref name="path"/> (the request path, starting with '/') matches the template.</summary>
    public bool Matches(ReadOnlySpan<char> path) => Match(path, variable: null, out _);

    /// <summary>
    /// Whether <paramref name="path"/> matches; when it does and the template binds <paramref name="variable"/> to one
    /// segment, <paramref name="value"/> is that segment, still percent-encoded.
    /// </summary>
    public bool Match(ReadOnlySpan<char> path, string? variable, out string? value)
    {
        value = null;
        if (path.IsEmpty || path[0] != '/')
        {
            return false;
        }

        path = path[1..];
        if (_verb is not null)
        {
            if (path.Length <= _verb.Length || path[^(_verb.Length + 1)] != ':' || !path.EndsWith(_verb, StringComparison.Ordinal))
            {
                return false;
            }

            path = path[..^(_verb.Length + 1)];
        }

        // Walks template and path segments together; the path must be used up exactly when the template is.
        var exhausted = false;
        foreach (var segment in _segments)
        {
            if (segment.Kind == SegmentKind.Rest)
            {
                return true;
            }

            if (exhausted)
            {
                return false;
            }

            var slash = path.IndexOf('/');
            var current = slash < 0 ? path : path[..slash];
            if (segment.Kind == SegmentKind.Literal ? !current.SequenceEqual(segment.Literal) : current.IsEmpty)
            {
                return false;
            }

            if (segment.Variable is not null && segment.Variable == variable)
            {
                value = current.ToString();
            }

            if (slash < 0)
            {
                exhausted = true;
            }
            else
            {
                path = path[(slash + 1)..];
            }
        }

        return exhausted;
    }

    private enum SegmentKind
    {
        Literal,
        Single,
        Rest,
    }

    /// <param name="Kind">A literal, one segment, or the rest of the path.</param>
    /// <param name="Literal">The text of a literal segment.</param>
    /// <param name="Variable">The variable a single-segment <c>{name}</c> binds (for <see cref="Match"/>).</param>
    /// <param name="Owner">The variable this segment is part of, whatever its pattern (for <see cref="Bind"/>).</param>
    private sealed record Segment(SegmentKind Kind, string? Literal, string? Variable, string? Owner = null);
}
