using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Trading.Backend.Storage;

/// <summary>Reports the backend unhealthy until its schema is in place and whenever its database cannot answer a query.</summary>
internal sealed class DatabaseHealthCheck(Database database) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!database.IsReady)
        {
            return HealthCheckResult.Unhealthy($"The database ({database.Description}) is not ready yet.");
        }

        try
        {
            await database.ReadAsync(static async (connection, ct) =>
            {
                await using var command = Database.Command(connection, null, "SELECT 1");
                return await command.ExecuteScalarAsync(ct);
            }, cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("The database does not answer.", ex);
        }
    }
}
