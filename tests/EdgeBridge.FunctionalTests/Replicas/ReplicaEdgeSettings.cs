namespace EdgeBridge.FunctionalTests.Replicas;

/// <summary>The edge in front of a second backend destination, as the replica tests run it.</summary>
internal static class ReplicaEdgeSettings
{
    /// <summary>
    /// <paramref name="name"/> as a destination of both clusters, probed every second so that a dead one is out within
    /// a few; the rate limits (tested elsewhere) far above the bursts these tests poll rotation with from one address.
    /// </summary>
    public static Dictionary<string, string?> SecondDestination(string name, string restAddress, string grpcAddress) => new()
    {
        [$"ReverseProxy:Clusters:backend-rest:Destinations:{name}:Address"] = restAddress,
        [$"ReverseProxy:Clusters:backend-grpc:Destinations:{name}:Address"] = grpcAddress,
        ["ReverseProxy:Clusters:backend-rest:HealthCheck:Active:Interval"] = "00:00:01",
        ["ReverseProxy:Clusters:backend-grpc:HealthCheck:Active:Interval"] = "00:00:01",
        ["EdgeBridge:Grpc:PerAddress:PermitsPerSecond"] = "100000",
        ["EdgeBridge:Grpc:PerAddress:Burst"] = "100000",
        ["EdgeBridge:Rest:PerAddress:PermitsPerSecond"] = "100000",
        ["EdgeBridge:Rest:PerAddress:Burst"] = "100000",
        ["EdgeBridge:Rest:PerUser:PermitsPerSecond"] = "100000",
        ["EdgeBridge:Rest:PerUser:Burst"] = "100000",
    };
}
