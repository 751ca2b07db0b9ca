using System.Net.WebSockets;
using System.Text;
using EdgeBridge.Streams;
using EdgeBridge.WebSockets;

namespace EdgeBridge.Tests.WebSockets;

public sealed class ClientFramesTests
{
    private static ClientFrame Parse(string json, WebSocketMessageType type = WebSocketMessageType.Text) =>
        ClientFrames.Parse(Encoding.UTF8.GetBytes(json), type);

    [Fact]
    public void Subscribe_WithEverything_YieldsTheCommand()
    {
        var frame = Parse("""{"type":"subscribe","id":"q","method":"a.v1.S/M","encoding":"proto","request":{"symbols":["X"]}}""");

        var subscribe = Assert.IsType<ClientFrame.Subscribe>(frame);
        Assert.Equal(("q", "a.v1.S/M", MessageEncoding.Proto, SubscribeProblem.None), (subscribe.Id, subscribe.Method, subscribe.Encoding, subscribe.Problem));
        Assert.Equal("""{"symbols":["X"]}""", subscribe.Request);
    }

    [Theory]
    [InlineData("""{"type":"call","id":"c","method":"a.v1.S/M","request":{"x":1}}""", """{"x":1}""")]
    [InlineData("""{"type":"call","id":"c","method":"a.v1.S/M"}""", "{}")]
    [InlineData("""{"type":"call","id":"c","method":"a.v1.S/M","request":[1]}""", null)]
    public void Call_CarriesItsRequest_OrNullWhenItIsNotAnObject(string json, string? request)
    {
        var call = Assert.IsType<ClientFrame.Call>(Parse(json));

        Assert.Equal(("c", "a.v1.S/M", request), (call.Id, call.Method, call.Request));
    }

    [Theory]
    [InlineData("""{"type":"send","id":"b","message":{"text":"hi"}}""", """{"text":"hi"}""")]
    [InlineData("""{"type":"send","id":"b","message":{}}""", "{}")]
    [InlineData("""{"type":"send","id":"b"}""", null)]
    [InlineData("""{"type":"send","id":"b","message":"hi"}""", null)]
    [InlineData("""{"type":"send","id":"b","message":null}""", null)]
    public void Send_CarriesItsMessage_OrNullWhenItIsNotAnObject(string json, string? message)
    {
        var send = Assert.IsType<ClientFrame.Send>(Parse(json));

        Assert.Equal(("b", message), (send.Id, send.Message));
    }

    [Fact]
    public void End_YieldsItsId() => Assert.Equal("b", Assert.IsType<ClientFrame.End>(Parse("""{"type":"end","id":"b"}""")).Id);

    [Theory]
    [InlineData("""{"type":"send","message":{}}""", "send")]
    [InlineData("""{"type":"end"}""", "end")]
    [InlineData("""{"type":"end","id":""}""", "end")]
    public void SendOrEnd_WithoutAnId_IsMalformed(string json, string type) =>
        Assert.Equal(type, Assert.IsType<ClientFrame.Malformed>(Parse(json)).Type);

    [Theory]
    [InlineData("""{"type":"call","method":"a.v1.S/M"}""")]
    [InlineData("""{"type":"call","id":"c","method":5}""")]
    public void Call_WithoutIdOrMethod_IsMalformed(string json) =>
        Assert.Equal("call", Assert.IsType<ClientFrame.Malformed>(Parse(json)).Type);

    [Fact]
    public void Subscribe_WithMetadata_KeepsItsEntriesInOrder()
    {
        var subscribe = Assert.IsType<ClientFrame.Subscribe>(Parse("""{"type":"subscribe","id":"q","method":"m","metadata":{"x-request-id":"r1","x-b":"2"}}"""));

        Assert.Equal([new("x-request-id", "r1"), new("x-b", "2")], subscribe.Metadata);
        Assert.Equal(SubscribeProblem.None, subscribe.Problem);
    }

    [Theory]
    [InlineData("""{"type":"subscribe","id":"q","method":"a.v1.S/M"}""", "{}")]
    [InlineData("""{"type":"subscribe","id":"q","method":"a.v1.S/M","request":null,"encoding":null}""", "{}")]
    public void Subscribe_WithoutRequestOrEncoding_DefaultsToEmptyRequestAndJson(string json, string request)
    {
        var subscribe = Assert.IsType<ClientFrame.Subscribe>(Parse(json));

        Assert.Equal((request, MessageEncoding.Json, SubscribeProblem.None), (subscribe.Request, subscribe.Encoding, subscribe.Problem));
    }

    [Theory]
    [InlineData("""{"type":"subscribe","id":"q","method":"m","encoding":"xml"}""", "UnknownEncoding")]
    [InlineData("""{"type":"subscribe","id":"q","method":"m","encoding":2}""", "UnknownEncoding")]
    [InlineData("""{"type":"subscribe","id":"q","method":"m","encoding":"PROTO"}""", "UnknownEncoding")]
    [InlineData("""{"type":"subscribe","id":"q","method":"m","request":[1]}""", "RequestNotAnObject")]
    [InlineData("""{"type":"subscribe","id":"q","method":"m","request":"{}"}""", "RequestNotAnObject")]
    [InlineData("""{"type":"subscribe","id":"q","method":"m","metadata":["x-request-id"]}""", "MetadataNotStrings")]
    [InlineData("""{"type":"subscribe","id":"q","method":"m","metadata":{"x-request-id":1}}""", "MetadataNotStrings")]
    [InlineData("""{"type":"subscribe","id":"q","method":"m","metadata":{"a":"","b":"","c":"","d":"","e":"","f":"","g":"","h":"","i":"","j":"","k":"","l":"","m":"","n":"","o":"","p":"","q":""}}""", "TooMuchMetadata")]
    public void Subscribe_WhoseEncodingOrRequestIsUnusable_CarriesTheProblemForItsId(string json, string problem)
    {
        var subscribe = Assert.IsType<ClientFrame.Subscribe>(Parse(json));

        Assert.Equal(("q", Enum.Parse<SubscribeProblem>(problem)), (subscribe.Id, subscribe.Problem));
    }

    [Theory]
    [InlineData("not json", null)]
    [InlineData("[1,2]", null)]
    [InlineData("""{"id":"q"}""", null)]
    [InlineData("""{"type":7}""", null)]
    [InlineData("""{"type":"subscribe","method":"m"}""", "subscribe")]
    [InlineData("""{"type":"subscribe","id":"","method":"m"}""", "subscribe")]
    [InlineData("""{"type":"subscribe","id":"q"}""", "subscribe")]
    [InlineData("""{"type":"subscribe","id":"q","method":1}""", "subscribe")]
    [InlineData("""{"type":"unsubscribe"}""", "unsubscribe")]
    [InlineData("""{"type":"auth"}""", "auth")]
    [InlineData("""{"type":"auth","token":5}""", "auth")]
    [InlineData("""{"type":"frobnicate"}""", "frobnicate")]
    public void MalformedFrames_SayWhy_AndTheirTypeWhenTheyHadOne(string json, string? type)
    {
        var malformed = Assert.IsType<ClientFrame.Malformed>(Parse(json));

        Assert.False(string.IsNullOrWhiteSpace(malformed.Problem));
        Assert.Equal(type, malformed.Type);
    }

    [Fact]
    public void IdLongerThanTheLimit_IsMalformed()
    {
        var id = new string('i', ClientFrames.MaxIdLength + 1);

        Assert.IsType<ClientFrame.Malformed>(Parse($$"""{"type":"unsubscribe","id":"{{id}}"}"""));
        Assert.IsType<ClientFrame.Unsubscribe>(Parse($$"""{"type":"unsubscribe","id":"{{id[1..]}}"}"""));
    }

    [Fact]
    public void UnknownType_IsEchoedOnlyInPart()
    {
        var malformed = Assert.IsType<ClientFrame.Malformed>(Parse($$"""{"type":"{{new string('t', 10_000)}}"}"""));

        Assert.True(malformed.Problem.Length < 200, malformed.Problem);
    }

    [Fact]
    public void BinaryFrame_IsMalformed() =>
        Assert.IsType<ClientFrame.Malformed>(Parse("""{"type":"ping"}""", WebSocketMessageType.Binary));

    [Theory]
    [InlineData("""{"type":"init"}""", null, false)]
    [InlineData("""{"type":"init","token":null}""", null, false)]
    [InlineData("""{"type":"init","token":"t"}""", "t", false)]
    [InlineData("""{"type":"init","token":{"a":1}}""", null, true)]
    public void Init_TokenIsOptional_ButMustBeAStringWhenGiven(string json, string? token, bool invalid)
    {
        var init = Assert.IsType<ClientFrame.Init>(Parse(json));

        Assert.Equal((token, invalid), (init.Token, init.TokenInvalid));
    }

    [Fact]
    public void ControlFrames_AreTheirCommands()
    {
        Assert.IsType<ClientFrame.Ping>(Parse("""{"type":"ping"}"""));
        Assert.IsType<ClientFrame.Pong>(Parse("""{"type":"pong","extra":true}"""));
        Assert.Equal("t", Assert.IsType<ClientFrame.Auth>(Parse("""{"type":"auth","token":"t"}""")).Token);
        Assert.Equal("q", Assert.IsType<ClientFrame.Unsubscribe>(Parse("""{"type":"unsubscribe","id":"q"}""")).Id);
    }

    [Fact]
    public void DeeplyNestedJson_IsMalformed_NotAStackOverflow()
    {
        var nested = new string('[', 10_000) + new string(']', 10_000);

        Assert.IsType<ClientFrame.Malformed>(Parse($$"""{"type":"subscribe","id":"q","method":"m","request":{{nested}}}"""));
    }
}
