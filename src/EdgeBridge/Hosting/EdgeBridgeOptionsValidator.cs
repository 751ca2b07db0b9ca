using EdgeBridge.Security;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EdgeBridge.Hosting;

/// <summary>
/// Checks <see cref="EdgeBridgeOptions"/> when the host starts (and on every reload): each failure names the
/// configuration key and what it must be, so that a bad setting stops the host instead of surfacing as a strange
/// answer later.
/// </summary>
/// <param name="environment">Where a relative signing key file is found.</param>
/// <param name="section">
/// The configuration the options were bound from, if any: binding drops a dictionary entry whose value does not
/// convert, so a listener with a misspelt role would otherwise vanish and serve as a Browser listener unseen.
/// </param>
internal sealed class EdgeBridgeOptionsValidator(IHostEnvironment environment, IConfiguration? section = null) : IValidateOptions<EdgeBridgeOptions>
{
    private const string Root = EdgeBridgeOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, EdgeBridgeOptions options)
    {
        var failures = new List<string>();

        void Positive(string key, long value)
        {
            if (value <= 0)
            {
                failures.Add($"{Root}:{key} must be greater than 0 (was {value}).");
            }
        }

        void NotNegative(string key, long value)
        {
            if (value < 0)
            {
                failures.Add($"{Root}:{key} must not be negative (was {value}).");
            }
        }

        void Duration(string key, TimeSpan value)
        {
            if (value <= TimeSpan.Zero)
            {
                failures.Add($"{Root}:{key} must be a positive duration (was {value}).");
            }
        }

        void Rate(string key, RateLimit? rate)
        {
            if (rate is null)
            {
                failures.Add($"{Root}:{key} must be set.");
                return;
            }

            NotNegative(key + ":PermitsPerSecond", rate.PermitsPerSecond);
            NotNegative(key + ":Burst", rate.Burst);
        }

        void Failures(string key, FailureLimit? limit)
        {
            if (limit is null)
            {
                failures.Add($"{Root}:{key} must be set.");
                return;
            }

            NotNegative(key + ":Failures", limit.Failures);
            if (limit.Failures > 0)
            {
                Duration(key + ":Window", limit.Window);
            }
        }

        foreach (var configured in section?.GetSection("Listeners").GetChildren() ?? [])
        {
            if (!options.Listeners.ContainsKey(configured.Key))
            {
                failures.Add($"{Root}:Listeners:{configured.Key}:Roles must name one or more of Browser, Grpc, Operations (was '{configured["Roles"]}').");
            }
        }

        // The binder drops a list entry with a value that does not convert: name the setting instead of losing the entry.
        var exposed = section?.GetSection("Contracts:Expose").GetChildren().ToList() ?? [];
        foreach (var entry in exposed)
        {
            Named<ExposedSharing>(entry, "Sharing");
            Named<ExposedSlowConsumer>(entry, "SlowConsumer");
            Named<ExposedAuth>(entry, "Auth");
            if (entry["QueueLimit"] is { } queueLimit && !int.TryParse(queueLimit, System.Globalization.CultureInfo.InvariantCulture, out _))
            {
                failures.Add($"{Root}:Contracts:Expose:{entry.Key}:QueueLimit must be a number (was '{queueLimit}').");
            }
        }

        void Named<TEnum>(IConfigurationSection entry, string name)
            where TEnum : struct, Enum
        {
            if (entry[name] is { } value && !Enum.TryParse<TEnum>(value, ignoreCase: true, out _))
            {
                failures.Add($"{Root}:Contracts:Expose:{entry.Key}:{name} must be one of {string.Join(", ", Enum.GetNames<TEnum>())} (was '{value}').");
            }
        }

        if (options.Contracts.ReloadDelay < TimeSpan.Zero || options.Contracts.ReloadDelay > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{Root}:Contracts:ReloadDelay must be from 0 to 00:01:00 (was {options.Contracts.ReloadDelay}).");
        }

        Duration("Contracts:ReflectionRefresh", options.Contracts.ReflectionRefresh);
        for (var i = 0; i < options.Contracts.Expose.Count; i++)
        {
            if (!System.Text.RegularExpressions.Regex.IsMatch(options.Contracts.Expose[i].Method, @"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+/[A-Za-z_][\w]*$"))
            {
                failures.Add($"{Root}:Contracts:Expose:{i}:Method must name a method as package.Service/Method (was '{options.Contracts.Expose[i].Method}').");
            }
        }

        foreach (var (listener, settings) in options.Listeners)
        {
            if (settings.Roles == EdgeListenerRoles.None || (settings.Roles & ~(EdgeListenerRoles.Browser | EdgeListenerRoles.Grpc | EdgeListenerRoles.Operations)) != 0)
            {
                failures.Add($"{Root}:Listeners:{listener}:Roles must name one or more of Browser, Grpc, Operations (was '{settings.Roles}').");
            }

            if (settings.DirectUpgrade && !settings.Roles.HasFlag(EdgeListenerRoles.Browser))
            {
                failures.Add($"{Root}:Listeners:{listener}:DirectUpgrade needs the Browser role: only browser listeners serve the WebSocket endpoint.");
            }

            if (settings.ProxyProtocol && settings.TrustedProxies.Count == 0)
            {
                failures.Add($"{Root}:Listeners:{listener}:TrustedProxies must list the balancers' addresses (e.g. 10.0.0.5 or 10.0.0.0/24) when ProxyProtocol is on: otherwise anyone who reaches the listener names their own address.");
            }

            foreach (var proxy in settings.TrustedProxies)
            {
                if (!Listeners.TrustedPeers.TryParse(proxy, out _))
                {
                    failures.Add($"{Root}:Listeners:{listener}:TrustedProxies: '{proxy}' is neither an IP address nor a network in CIDR notation.");
                }
            }
        }

        var upstream = options.Upstream;
        if (string.IsNullOrWhiteSpace(upstream.GrpcCluster))
        {
            failures.Add($"{Root}:Upstream:GrpcCluster must name the reverse-proxy cluster of the gRPC backend.");
        }

        Duration("Upstream:HealthCheckTimeout", upstream.HealthCheckTimeout);
        Positive("Upstream:MaxCalls", upstream.MaxCalls);
        Positive("Upstream:MaxCallsPerAddress", upstream.MaxCallsPerAddress);
        Positive("Upstream:MaxCallsPerUser", upstream.MaxCallsPerUser);
        if (upstream.FailoverGracePeriod < TimeSpan.Zero)
        {
            failures.Add($"{Root}:Upstream:FailoverGracePeriod must not be negative (was {upstream.FailoverGracePeriod}).");
        }

        Duration("Upstream:FailoverBackoff", upstream.FailoverBackoff);
        if (upstream.FailoverMaxBackoff < upstream.FailoverBackoff)
        {
            failures.Add($"{Root}:Upstream:FailoverMaxBackoff must be at least FailoverBackoff (was {upstream.FailoverMaxBackoff}).");
        }

        Positive("Rest:MaxRequestBodySize", options.Rest.MaxRequestBodySize);
        NotNegative("Rest:MaxETagBodySize", options.Rest.MaxETagBodySize);
        Rate("Rest:PerAddress", options.Rest.PerAddress);
        Rate("Rest:PerUser", options.Rest.PerUser);

        Positive("Grpc:MaxMessageBytes", options.Grpc.MaxMessageBytes);
        Rate("Grpc:PerAddress", options.Grpc.PerAddress);
        Rate("Grpc:PerUser", options.Grpc.PerUser);

        var sockets = options.WebSockets;
        if (string.IsNullOrEmpty(sockets.Path) || sockets.Path[0] != '/' || sockets.Path.Contains('?', StringComparison.Ordinal))
        {
            failures.Add($"{Root}:WebSockets:Path must be an absolute path such as /ws (was '{sockets.Path}').");
        }

        if (sockets.MaxFrameBytes is < 256 or > 16 * 1024 * 1024)
        {
            failures.Add($"{Root}:WebSockets:MaxFrameBytes must be between 256 and 16777216 (was {sockets.MaxFrameBytes}).");
        }

        Positive("WebSockets:MaxSubscriptionsPerConnection", sockets.MaxSubscriptionsPerConnection);
        Positive("WebSockets:MaxInboundFramesPerSecond", sockets.MaxInboundFramesPerSecond);
        NotNegative("WebSockets:InboundFrameBurst", sockets.InboundFrameBurst);
        NotNegative("WebSockets:MaxMalformedFrames", sockets.MaxMalformedFrames);
        Duration("WebSockets:InitTimeout", sockets.InitTimeout);
        Duration("WebSockets:KeepAliveInterval", sockets.KeepAliveInterval);
        Duration("WebSockets:KeepAliveTimeout", sockets.KeepAliveTimeout);
        Duration("WebSockets:CloseTimeout", sockets.CloseTimeout);
        if (sockets.DrainPeriod < TimeSpan.Zero)
        {
            failures.Add($"{Root}:WebSockets:DrainPeriod must not be negative (was {sockets.DrainPeriod}).");
        }
        Positive("WebSockets:DefaultQueueLimit", sockets.DefaultQueueLimit);
        Positive("WebSockets:MaxQueueLimit", sockets.MaxQueueLimit);
        Positive("WebSockets:DefaultSendQueueLimit", sockets.DefaultSendQueueLimit);
        if (sockets.DefaultQueueLimit > sockets.MaxQueueLimit)
        {
            failures.Add($"{Root}:WebSockets:DefaultQueueLimit ({sockets.DefaultQueueLimit}) must not exceed {Root}:WebSockets:MaxQueueLimit ({sockets.MaxQueueLimit}).");
        }

        Positive("WebSockets:MaxPendingControlFrames", sockets.MaxPendingControlFrames);
        NotNegative("WebSockets:MaxWriteBatchBytes", sockets.MaxWriteBatchBytes);
        foreach (var key in sockets.ForwardedMetadata)
        {
            if (Streams.SubscriptionMetadata.Reserved(key.ToLowerInvariant()) is { } reserved)
            {
                failures.Add($"{Root}:WebSockets:ForwardedMetadata cannot forward {reserved}.");
            }
        }

        Positive("WebSockets:MaxMetadataBytes", sockets.MaxMetadataBytes);
        Rate("WebSockets:Handshakes", sockets.Handshakes);
        Duration("WebSockets:CallTimeout", sockets.CallTimeout);
        Positive("WebSockets:MaxCallsInFlight", sockets.MaxCallsInFlight);
        if (!options.Streams.Path.StartsWith('/') || options.Streams.Path.Length < 2 || options.Streams.Path.EndsWith('/'))
        {
            failures.Add($"{Root}:Streams:Path must be an absolute path such as /stream (was '{options.Streams.Path}').");
        }

        Duration("Streams:HeartbeatInterval", options.Streams.HeartbeatInterval);
        Positive("Streams:MaxRequestBytes", options.Streams.MaxRequestBytes);
        Duration("Streams:TicketLifetime", options.Streams.TicketLifetime);
        Positive("Streams:MaxRedeemedTickets", options.Streams.MaxRedeemedTickets);
        Positive("Rpc:MaxRequestBytes", options.Rpc.MaxRequestBytes);
        Duration("Rpc:DefaultTimeout", options.Rpc.DefaultTimeout);
        Duration("Rpc:MaxTimeout", options.Rpc.MaxTimeout);
        if (options.Rpc.DefaultTimeout > options.Rpc.MaxTimeout)
        {
            failures.Add($"{Root}:Rpc:DefaultTimeout ({options.Rpc.DefaultTimeout}) must not exceed {Root}:Rpc:MaxTimeout ({options.Rpc.MaxTimeout}).");
        }
        Rate("WebSockets:HandshakesPerAddress", sockets.HandshakesPerAddress);
        Positive("WebSockets:MaxConnections", sockets.MaxConnections);
        Positive("WebSockets:MaxConnectionsPerAddress", sockets.MaxConnectionsPerAddress);

        var tokens = options.Tokens;
        if (tokens.Enabled)
        {
            if (string.IsNullOrWhiteSpace(tokens.Issuer))
            {
                failures.Add($"{Root}:Tokens:Issuer must be set (or {Root}:Tokens:Enabled set to false).");
            }

            if (string.IsNullOrWhiteSpace(tokens.Audience))
            {
                failures.Add($"{Root}:Tokens:Audience must be set (or {Root}:Tokens:Enabled set to false).");
            }

            if (SigningKeys.Problem(tokens, environment) is { } problem)
            {
                failures.Add(problem);
            }

            if (tokens.ClockSkew < TimeSpan.Zero)
            {
                failures.Add($"{Root}:Tokens:ClockSkew must not be negative (was {tokens.ClockSkew}).");
            }
        }

        Failures("Logins:PerUserAtAddress", options.Logins.PerUserAtAddress);
        Failures("Logins:PerAddress", options.Logins.PerAddress);
        Failures("Logins:PerUser", options.Logins.PerUser);
        Duration("Logins:KnownAddressLifetime", options.Logins.KnownAddressLifetime);
        Positive("Logins:MaxTracked", options.Logins.MaxTracked);

        for (var i = 0; i < options.Browser.AllowedOrigins.Count; i++)
        {
            var origin = options.Browser.AllowedOrigins[i];
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.AbsolutePath.TrimEnd('/').Length > 0)
            {
                failures.Add($"{Root}:Browser:AllowedOrigins:{i} ('{origin}') is not an origin (scheme://host[:port]).");
            }
        }

        if (options.Browser.PreflightMaxAge < TimeSpan.Zero)
        {
            failures.Add($"{Root}:Browser:PreflightMaxAge must not be negative (was {options.Browser.PreflightMaxAge}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
