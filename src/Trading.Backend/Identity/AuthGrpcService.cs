using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Trading.V1;

namespace Trading.Backend.Identity;

internal sealed class AuthGrpcService(UserStore users, TokenService tokens) : AuthService.AuthServiceBase
{
    private const int MaxCredentialLength = 256;

    public override Task<LoginResponse> Login(LoginRequest request, ServerCallContext context)
    {
        if (request.Username.Length is 0 or > MaxCredentialLength || request.Password.Length is 0 or > MaxCredentialLength)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"username and password are required (at most {MaxCredentialLength} characters each)."));
        }

        // Hash even for unknown users so that response times do not reveal which names exist.
        var user = users.Find(request.Username);
        var valid = PasswordHasher.Verify(request.Password, user?.PasswordHash ?? s_decoyHash) && user is not null;
        if (!valid)
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "Unknown username or wrong password."));
        }

        var (token, expires) = tokens.Issue(request.Username, user!.Value.AccountId);
        return Task.FromResult(new LoginResponse
        {
            AccessToken = token,
            ExpiresAt = Timestamp.FromDateTimeOffset(expires),
            AccountId = user.Value.AccountId,
            TokenType = "Bearer",
        });
    }

    private static readonly string s_decoyHash = PasswordHasher.Hash(Guid.NewGuid().ToString());
}
