using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Trading.V1;

namespace Trading.Backend.Identity;

internal sealed class AuthGrpcService(UserStore users, TokenService tokens, RefreshTokens refreshTokens, LoginFailures failures) : AuthService.AuthServiceBase
{
    private const int MaxCredentialLength = 256;

    public override async Task<LoginResponse> Login(LoginRequest request, ServerCallContext context)
    {
        if (request.Username.Length is 0 or > MaxCredentialLength || request.Password.Length is 0 or > MaxCredentialLength)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"username and password are required (at most {MaxCredentialLength} characters each)."));
        }

        // Before any hashing: a name that has used its budget costs nothing more.
        if (failures.Refusal(request.Username) is { } refusal)
        {
            throw refusal;
        }

        // Hash even for unknown users so that response times do not reveal which names exist.
        var user = users.Find(request.Username);
        var valid = PasswordHasher.Verify(request.Password, user?.PasswordHash ?? s_decoyHash) && user is not null;
        if (!valid)
        {
            await failures.RecordAsync(request.Username, context.CancellationToken);
            throw new RpcException(new Status(StatusCode.Unauthenticated, "Unknown username or wrong password."));
        }

        var refresh = await refreshTokens.IssueAsync(request.Username, user!.Value.AccountId, context.CancellationToken);
        return Respond(request.Username, user.Value.AccountId, refresh);
    }

    public override async Task<RefreshResponse> Refresh(RefreshRequest request, ServerCallContext context)
    {
        if (request.RefreshToken.Length is 0 or > MaxCredentialLength)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"refresh_token is required (at most {MaxCredentialLength} characters)."));
        }

        var (username, accountId, token, expires) = await refreshTokens.RotateAsync(request.RefreshToken, context.CancellationToken);
        var issued = Respond(username, accountId, (token, expires));
        return new RefreshResponse
        {
            AccessToken = issued.AccessToken,
            ExpiresAt = issued.ExpiresAt,
            AccountId = issued.AccountId,
            TokenType = issued.TokenType,
            RefreshToken = issued.RefreshToken,
            RefreshExpiresAt = issued.RefreshExpiresAt,
        };
    }

    private LoginResponse Respond(string username, string accountId, (string Token, DateTimeOffset ExpiresAt) refresh)
    {
        var (token, expires) = tokens.Issue(username, accountId);
        return new LoginResponse
        {
            AccessToken = token,
            ExpiresAt = Timestamp.FromDateTimeOffset(expires),
            AccountId = accountId,
            TokenType = "Bearer",
            RefreshToken = refresh.Token,
            RefreshExpiresAt = Timestamp.FromDateTimeOffset(refresh.ExpiresAt),
        };
    }

    private static readonly string s_decoyHash = PasswordHasher.Hash(Guid.NewGuid().ToString());
}
