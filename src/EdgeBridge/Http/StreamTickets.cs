using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace EdgeBridge.Http;

/// <summary>
/// Short-lived, single-use tickets that let <c>EventSource</c> — which cannot send an <c>Authorization</c> header —
/// open an authenticated stream without putting the access token in a URL. A ticket is the caller's token sealed
/// (AES-GCM) under a key derived from the edges' shared signing key, with its expiry and a nonce: any edge behind the
/// balancer can open it, and what a log or a referrer sees of the URL reveals nothing and expires within
/// <see cref="HttpStreamOptions.TicketLifetime"/>.
/// </summary>
/// <remarks>
/// Single use is kept per edge: each edge remembers the nonces it redeemed until they expire (bounded by
/// <see cref="HttpStreamOptions.MaxRedeemedTickets"/>). A ticket replayed on another edge within its lifetime opens
/// one more stream there, for the same caller and no longer than the lifetime allows a first use.
/// </remarks>
internal sealed class StreamTickets
{
    private const int NonceBytes = 16;
    private const int KeyNonceBytes = 12;
    private const int TagBytes = 16;

    private readonly byte[]? _key;
    private readonly IOptionsMonitor<EdgeBridgeOptions> _options;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<Guid, long> _redeemed = new();
    private long _lastSweep;

    public StreamTickets(IOptionsMonitor<JwtBearerOptions> jwt, IOptionsMonitor<EdgeBridgeOptions> options, TimeProvider time)
    {
        _options = options;
        _time = time;
        if (jwt.Get(EdgeBridgeDefaults.AuthenticationScheme).TokenValidationParameters?.IssuerSigningKey is SymmetricSecurityKey signing)
        {
            _key = HKDF.DeriveKey(HashAlgorithmName.SHA256, signing.Key, 32, info: "edgebridge.v1 stream tickets"u8.ToArray());
        }
    }

    /// <summary>Whether tickets can be issued: the edge checks tokens (and so has a key).</summary>
    public bool Enabled => _key is not null;

    /// <summary>A ticket for <paramref name="token"/>, already validated by the caller.</summary>
    public (string Ticket, DateTimeOffset ExpiresAt) Issue(string token)
    {
        var expires = _time.GetUtcNow() + _options.CurrentValue.Streams.TicketLifetime;
        var plain = new byte[8 + NonceBytes + Encoding.UTF8.GetByteCount(token)];
        BinaryPrimitives.WriteInt64BigEndian(plain, expires.ToUnixTimeMilliseconds());
        Guid.NewGuid().TryWriteBytes(plain.AsSpan(8, NonceBytes));
        Encoding.UTF8.GetBytes(token, plain.AsSpan(8 + NonceBytes));

        var sealedTicket = new byte[KeyNonceBytes + TagBytes + plain.Length];
        RandomNumberGenerator.Fill(sealedTicket.AsSpan(0, KeyNonceBytes));
        using var aes = new AesGcm(_key!, TagBytes);
        aes.Encrypt(sealedTicket.AsSpan(0, KeyNonceBytes), plain, sealedTicket.AsSpan(KeyNonceBytes + TagBytes), sealedTicket.AsSpan(KeyNonceBytes, TagBytes));
        return (Base64UrlEncoder.Encode(sealedTicket), expires);
    }

    /// <summary>The token a ticket carries, once; null with the reason when it is not (or no longer) valid.</summary>
    public (string? Token, string? Problem) Redeem(string ticket)
    {
        byte[] sealedTicket;
        try
        {
            sealedTicket = Base64UrlEncoder.DecodeBytes(ticket);
        }
        catch (FormatException)
        {
            return (null, "the stream ticket is malformed");
        }

        if (_key is null || sealedTicket.Length <= KeyNonceBytes + TagBytes + 8 + NonceBytes)
        {
            return (null, "the stream ticket is malformed");
        }

        var plain = new byte[sealedTicket.Length - KeyNonceBytes - TagBytes];
        try
        {
            using var aes = new AesGcm(_key, TagBytes);
            aes.Decrypt(sealedTicket.AsSpan(0, KeyNonceBytes), sealedTicket.AsSpan(KeyNonceBytes + TagBytes), sealedTicket.AsSpan(KeyNonceBytes, TagBytes), plain);
        }
        catch (AuthenticationTagMismatchException)
        {
            return (null, "the stream ticket is not one this edge issued");
        }

        var expires = BinaryPrimitives.ReadInt64BigEndian(plain);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (expires <= now)
        {
            return (null, "the stream ticket has expired; get a new one");
        }

        var nonce = new Guid(plain.AsSpan(8, NonceBytes));
        Sweep(now);
        if (_redeemed.Count >= _options.CurrentValue.Streams.MaxRedeemedTickets)
        {
            return (null, "this edge is redeeming too many stream tickets at once; retry");
        }

        if (!_redeemed.TryAdd(nonce, expires))
        {
            return (null, "the stream ticket was already used; get a new one");
        }

        return (Encoding.UTF8.GetString(plain.AsSpan(8 + NonceBytes)), null);
    }

    // Expired nonces can never be replayed: they are forgotten. Swept at most once a second and only once the set
    // has grown, so that a redeem stays O(1) on average.
    private void Sweep(long now)
    {
        var last = Interlocked.Read(ref _lastSweep);
        if (_redeemed.Count < 1024 || now - last < 1000 || Interlocked.CompareExchange(ref _lastSweep, now, last) != last)
        {
            return;
        }

        foreach (var (nonce, expires) in _redeemed)
        {
            if (expires <= now)
            {
                _redeemed.TryRemove(nonce, out _);
            }
        }
    }
}
