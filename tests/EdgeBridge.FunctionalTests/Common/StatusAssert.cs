using System.Net;
using System.Text.Json;

namespace EdgeBridge.FunctionalTests.Common;

public static class StatusAssert
{
    /// <summary>Asserts an HTTP status with a google.rpc.Status JSON body of the given code.</summary>
    public static void IsRpcStatus(HttpResponseMessage response, JsonElement body, HttpStatusCode status, int code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.StartsWith("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(code, body.GetProperty("code").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(body.GetProperty("message").GetString()));
        Assert.Equal(JsonValueKind.Array, body.GetProperty("details").ValueKind);
    }
}
