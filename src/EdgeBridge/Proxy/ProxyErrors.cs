using EdgeBridge.Responses;
using Microsoft.AspNetCore.Http.Features;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace EdgeBridge.Proxy;

/// <summary>
/// Turns forwarding failures into answers in the caller's protocol: REST gets an HTTP status with a
/// google.rpc.Status body (never an empty 502), gRPC gets a gRPC status such as UNAVAILABLE.
/// </summary>
internal static partial class ProxyErrors
{
    public static async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        await next(context);

        var error = context.Features.Get<IForwarderErrorFeature>();
        if (error is null || context.Response.HasStarted || error.Error == ForwarderError.RequestCanceled)
        {
            return;
        }

        var (code, message, httpStatus) = Describe(error, context);
        var logger = context.RequestServices.GetService(typeof(ILoggerFactory)) is ILoggerFactory factory
            ? factory.CreateLogger("EdgeBridge.Proxy.ProxyErrors")
            : null;
        await RpcStatusWriter.WriteAsync(context, code, message, httpStatus);
        if (logger is not null)
        {
            // Client mistakes are the client's business; an unreachable backend is the operator's.
            if (context.Response.StatusCode < 500)
            {
                Log.ForwardingRejected(logger, context.Request.Method, context.Request.Path.Value ?? "", error.Error, context.Response.StatusCode);
            }
            else
            {
                Log.ForwardingFailed(logger, context.Request.Method, context.Request.Path.Value ?? "", error.Error, context.Response.StatusCode, error.Exception);
            }
        }
    }

    private static (StatusCode Code, string Message, int? HttpStatus) Describe(IForwarderErrorFeature error, HttpContext context)
    {
        if (Find<GrpcMessageTooLargeException>(error.Exception) is { } message)
        {
            return (StatusCode.ResourceExhausted, message.Message, StatusCodes.Status413PayloadTooLarge);
        }

        if (Find<BadHttpRequestException>(error.Exception) is { StatusCode: StatusCodes.Status413PayloadTooLarge })
        {
            var limit = context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize;
            return (StatusCode.ResourceExhausted, $"The request body exceeds the edge's limit of {limit} bytes.", StatusCodes.Status413PayloadTooLarge);
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

    private static T? Find<T>(Exception? exception)
        where T : Exception
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is T found)
            {
                return found;
            }
        }

        return null;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "ForwardingFailed", Level = LogLevel.Warning, Message = "Forwarding {Method} {Path} failed with {Error}; answered {StatusCode}.")]
        public static partial void ForwardingFailed(ILogger logger, string method, string path, ForwarderError error, int statusCode, Exception? exception);

        [LoggerMessage(EventId = 2, EventName = "ForwardingRejected", Level = LogLevel.Debug, Message = "Forwarding {Method} {Path} stopped with {Error}; answered {StatusCode}.")]
        public static partial void ForwardingRejected(ILogger logger, string method, string path, ForwarderError error, int statusCode);
    }
}
