using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Trading.Backend.Storage;

/// <summary>Reports the backend unhealthy when its database cannot answer a query.</summary>
internal sealed class DatabaseHealthCheck(SqliteDatabase database) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            database.Read(connection =>
            {
                using var command = SqliteDatabase.Command(connection, null, "SELECT 1");
                return command.ExecuteScalar();
            });
            return Task.FromResult(HealthCheckResult.Healthy());
        }
        catch (Exception ex)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("The database does not answer.", ex));
        }
    }
}
