using EdgeBridge.Internal;
using EdgeBridge.Status;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace EdgeBridge.Proxy;

/// <summary>
/// Turns forwarding failures into answers in the caller's protocol: REST gets an HTTP status with a
/// google.rpc.Status body (never an empty 502), gRPC gets a gRPC status such as UNAVAILABLE.
/// </summary>
internal static class ProxyErrors
{
    public static async Task InvokeAsync(HttpContext context, Func<Task> next)
    {
        await next();

        var error = context.Features.Get<IForwarderErrorFeature>();
        if (error is null || context.Response.HasStarted || error.Error == ForwarderError.RequestCanceled)
        {
            return;
        }

        var (code, message, httpStatus) = Describe(error, context);
        var logger = context.RequestServices.GetService(typeof(ILoggerFactory)) is ILoggerFactory factory
            ? factory.CreateLogger("EdgeBridge.Proxy")
            : null;
        await RpcStatusWriter.WriteAsync(context, code, message, httpStatus);
        if (logger is not null)
        {
            // Client mistakes are the client's business; an unreachable backend is the operator's.
            if (context.Response.StatusCode < 500)
            {
                EdgeBridgeLog.ForwardingRejected(logger, context.Request.Method, context.Request.Path.Value ?? "", error.Error, context.Response.StatusCode);
            }
            else
            {
                EdgeBridgeLog.ForwardingFailed(logger, context.Request.Method, context.Request.Path.Value ?? "", error.Error, context.Response.StatusCode, error.Exception);
            }
        }
    }

    private static (StatusCode Code, string Message, int? HttpStatus) Describe(IForwarderErrorFeature error, HttpContext context)
    {
        if (FindBadRequest(error.Exception) is { StatusCode: StatusCodes.Status413PayloadTooLarge })
        {
            return (StatusCode.ResourceExhausted, BodyLimits.TooLargeMessage(context), StatusCodes.Status413PayloadTooLarge);
        }

        return error.Error switch
        {
            ForwarderError.RequestBodyClient or ForwarderError.RequestBodyCanceled =>
                (StatusCode.InvalidArgument, "The request body could not be read.", null),
            ForwarderError.RequestTimedOut =>
                (StatusCode.DeadlineExceeded, "The backend did not answer in time.", null),
            _ => (StatusCode.Unavailable, "The backend is unavailable; retry shortly.", null),
        };
    }

    private static BadHttpRequestException? FindBadRequest(Exception? exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is BadHttpRequestException bad)
            {
                return bad;
            }
        }

        return null;
    }
}
