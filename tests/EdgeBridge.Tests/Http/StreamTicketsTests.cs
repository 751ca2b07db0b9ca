using EdgeBridge.Http;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;

namespace EdgeBridge.Tests.Http;

public sealed class StreamTicketsTests
{
    private static readonly byte[] s_key = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

    private StreamTickets Edge(byte[]? key = null) => new(new Monitor<JwtBearerOptions>(new JwtBearerOptions
    {
        TokenValidationParameters = new TokenValidationParameters { IssuerSigningKey = new SymmetricSecurityKey(key ?? s_key) },
    }), new Monitor<EdgeBridgeOptions>(new EdgeBridgeOptions()), _time);

    [Fact]
    public void Ticket_CarriesTheToken_Sealed_AndOpensOnAnyEdgeWithTheKey()
    {
        var (ticket, expires) = Edge().Issue("header.payload.signature");

        Assert.DoesNotContain("payload", ticket);
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(30), expires);
        Assert.Equal(("header.payload.signature", null), Edge().Redeem(ticket));
    }

    [Fact]
    public void SecondRedeemOnTheSameEdge_Refused()
    {
        var edge = Edge();
        var (ticket, _) = edge.Issue("t");

        edge.Redeem(ticket);

        Assert.Contains("already used", edge.Redeem(ticket).Problem);
    }

    [Fact]
    public void AfterItsLifetime_Refused()
    {
        var edge = Edge();
        var (ticket, _) = edge.Issue("t");

        _time.Advance(TimeSpan.FromSeconds(30));

        Assert.Contains("expired", edge.Redeem(ticket).Problem);
    }

    [Fact]
    public void AnotherKeysTicket_OrAFlippedBit_Refused()
    {
        var (ticket, _) = Edge(Enumerable.Repeat((byte)7, 32).ToArray()).Issue("t");
        var bytes = Base64UrlEncoder.DecodeBytes(Edge().Issue("t").Ticket);
        bytes[^1] ^= 1;

        Assert.Contains("not one this edge issued", Edge().Redeem(ticket).Problem);
        Assert.Contains("not one this edge issued", Edge().Redeem(Base64UrlEncoder.Encode(bytes)).Problem);
        Assert.Contains("malformed", Edge().Redeem("short").Problem);
    }

    private sealed class Monitor<T>(T value) : IOptionsMonitor<T>
    {
        public T CurrentValue => value;

        public T Get(string? name) => value;

        public IDisposable? OnChange(Action<T, string?> listener) => null;
    }
}
