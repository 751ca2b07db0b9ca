using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Trading.Backend.Hosting;
using Trading.Backend.Storage;

namespace Trading.Backend.Identity;

/// <summary>
/// Failed sign-ins per user name, counted in the database: one budget for the whole system, however many edges
/// and replicas the guesses are spread over (each edge's own throttle multiplies with the number of edges; this one
/// does not). Beyond <see cref="AuthOptions.FailedLogins"/> in a window, sign-ins for that name are refused with
/// RESOURCE_EXHAUSTED and a <c>google.rpc.RetryInfo</c> before the password is hashed.
/// </summary>
/// <remarks>
/// Unknown names are counted too, so that the answer never tells which names exist; rows of windows that have passed
/// are deleted with every write, so the table holds at most the names tried within one window. A correct password
/// does not reset the count: an attacker interleaving guesses with the user's own sign-ins gains nothing. The price
/// is that someone who knows a user name can lock it for one window — which is why this budget is set above the
/// edges' per-user ones, which exempt the user's known addresses (docs/security.md).
/// </remarks>
internal sealed class LoginFailures(Database database, IOptions<BackendOptions> options, TimeProvider time)
{
    /// <summary>RESOURCE_EXHAUSTED with how long to wait, when <paramref name="username"/> has used its budget.</summary>
    public RpcException? Refusal(string username)
    {
        var limit = options.Value.Auth.FailedLogins;
        if (limit.Failures <= 0)
        {
            return null;
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var row = database.Read(connection =>
        {
            using var find = Database.Command(connection, null, "SELECT failures, window_start_ms FROM login_failures WHERE username = @user", ("@user", username));
            using var reader = find.ExecuteReader();
            return reader.Read() ? (Failures: reader.GetInt64(0), Start: reader.GetInt64(1)) : ((long Failures, long Start)?)null;
        });
        if (row is not { } seen || seen.Failures < limit.Failures || seen.Start + (long)limit.Window.TotalMilliseconds <= now)
        {
            return null;
        }

        var wait = TimeSpan.FromMilliseconds(seen.Start + (long)limit.Window.TotalMilliseconds - now);
        var status = new Google.Rpc.Status
        {
            Code = (int)StatusCode.ResourceExhausted,
            Message = $"Too many failed sign-ins for this user; retry after {Math.Ceiling(wait.TotalSeconds)} s.",
            Details = { Any.Pack(new Google.Rpc.RetryInfo { RetryDelay = Duration.FromTimeSpan(wait) }) },
        };
        return status.ToRpcException();
    }

    /// <summary>Counts one failed sign-in for <paramref name="username"/> in its current window.</summary>
    public Task RecordAsync(string username, CancellationToken cancellationToken)
    {
        var limit = options.Value.Auth.FailedLogins;
        if (limit.Failures <= 0)
        {
            return Task.CompletedTask;
        }

        return database.WriteAsync((connection, transaction) =>
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var cutoff = now - (long)limit.Window.TotalMilliseconds;
            Database.Execute(connection, transaction, "DELETE FROM login_failures WHERE window_start_ms <= @cutoff", ("@cutoff", cutoff));
            Database.Execute(connection, transaction,
                """
                INSERT INTO login_failures (username, window_start_ms, failures) VALUES (@user, @now, 1)
                ON CONFLICT (username) DO UPDATE SET failures = login_failures.failures + 1
                """,
                ("@user", username), ("@now", now));
            return true;
        }, cancellationToken);
    }
}
