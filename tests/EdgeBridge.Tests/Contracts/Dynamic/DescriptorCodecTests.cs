using System.Text;
using EdgeBridge.Contracts;
using EdgeBridge.Contracts.Dynamic;
using EdgeBridge.Tests.Codec;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace EdgeBridge.Tests.Contracts.Dynamic;

/// <summary>
/// The descriptor-driven codec against Google.Protobuf's generated code as the oracle. The codec is given descriptors
/// rebuilt from serialized FileDescriptorProtos — exactly what a descriptor set on disk yields, with no generated class
/// behind them — and must write the JSON the edge writes for generated messages (<see cref="ProtoJson.FormatUtf8"/>,
/// JsonFormatter's output) and read JSON into the bytes JsonParser's message serializes to, byte for byte.
/// </summary>
public sealed class DescriptorCodecTests
{
    private static readonly FileDescriptor[] s_generatedFiles =
    [
        CodecTestReflection.Descriptor, Trading.V1.AuthReflection.Descriptor, Trading.V1.MarketDataReflection.Descriptor,
        Trading.V1.TradingReflection.Descriptor, Chat.V1.ChatReflection.Descriptor,
    ];

    private static readonly ProtoJson s_oracle = new(TypeRegistry.FromFiles(s_generatedFiles));

    private static readonly JsonParser s_oracleParser = new(JsonParser.Settings.Default.WithTypeRegistry(TypeRegistry.FromFiles(s_generatedFiles)));

    /// <summary>The same files as a descriptor set on disk gives them: built from bytes, no generated code.</summary>
    private static readonly IReadOnlyList<FileDescriptor> s_loaded = DescriptorSets.Rebuild(s_generatedFiles);

    private static readonly DescriptorCodec s_codec = new(s_loaded);

    private static readonly MessageDescriptor[] s_anyTypes =
    [
        Nested.Descriptor, Scalars.Descriptor, Timestamp.Descriptor, Trading.V1.Quote.Descriptor,
    ];

    public static TheoryData<string> SampleTypes() => [.. s_generatedFiles.Skip(1).SelectMany(f => f.MessageTypes).SelectMany(WithNested)
        .Where(t => t.GetOptions()?.MapEntry != true).Select(t => t.FullName)];

    [Fact]
    public void LoadedDescriptors_HaveNoGeneratedCode()
    {
        var loaded = Loaded(Everything.Descriptor);

        Assert.Null(loaded.ClrType);
        Assert.NotSame(Everything.Descriptor, loaded);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void RandomMessagesOfEveryShape_ReadAndWrittenAsTheGeneratedCodeDoes(int round)
    {
        // 100 messages a round, each a tree of every field kind: JSON out, JSON in, binary both ways.
        for (var i = 0; i < 100; i++)
        {
            var seed = round * 1000 + i;
            var message = new RandomMessages(seed, s_anyTypes).Next<Everything>();
            AssertLikeGenerated(message, $"seed {seed}");
        }
    }

    [Theory]
    [MemberData(nameof(SampleTypes))]
    public void EveryMessageOfTheSampleContract_ReadAndWrittenAsTheGeneratedCodeDoes(string typeName)
    {
        var type = s_generatedFiles.SelectMany(f => f.MessageTypes).SelectMany(WithNested).Single(t => t.FullName == typeName);
        AssertLikeGenerated(RandomMessages.New(type), "an empty message");
        for (var seed = 0; seed < 40; seed++)
        {
            AssertLikeGenerated(new RandomMessages(seed, s_anyTypes).Next(type), $"seed {seed}");
        }
    }

    [Theory]
    // Names as in the .proto and as JSON names; numbers as strings and as numbers; enums by number; nulls clearing.
    [InlineData("""{"scalars":{"i64":123,"u64":"18446744073709551615","i32":"-5","d":"NaN","f":"-Infinity","color":2,"aliased":"ALIASED_UNO","by":"AQID"}}""")]
    [InlineData("""{"names":{"snake_case_field":1,"renamed":2,"field3":3,"with2Digits":4}}""")]
    [InlineData("""{"names":{"snakeCaseField":1,"custom":2}}""")]
    [InlineData("""{"scalars":{"i32":1e2,"u32":4294967295,"sfx64":"-9223372036854775808","d":1.5e-300,"f":3.4e38}}""")]
    [InlineData("""{"scalars":{"s":null,"i32":null},"presence":{"maybe":0,"maybeColor":"COLOR_UNSPECIFIED","child":null}}""")]
    [InlineData("""{"presence":{"boxed":0}}""")]
    [InlineData("""{"presence":{"hue":"COLOR_NEGATIVE","maybeText":""}}""")]
    [InlineData("""{"maps":{"i32I64":{"-1":"9007199254740993","2":3},"bS":{"true":"t","false":""},"u64Color":{"18446744073709551615":"COLOR_RED"},"s32By":{"-7":""}}}""")]
    [InlineData("""{"maps":{"ss":{"a":"1","a":"2","b":"3"},"values":{"n":null,"o":{"x":[1,"two",true,null,{}]}},"times":{"t":"1972-01-01T10:00:20.021+01:30"}}}""")]
    [InlineData("""{"wkt":{"at":"2026-12-02T04:36:55.123456789Z","took":"-1.5s","mask":"snakeCase.field,id","doc":{"a":{"b":[]}},"value":null,"list":[null,1]}}""")]
    [InlineData("""{"wkt":{"nothing":{},"dv":"Infinity","fv":1,"i64v":"-1","u64v":1,"i32v":null,"u32v":0,"bv":false,"sv":"","byv":"","nullValue":null}}""")]
    [InlineData("""{"wkt":{"any":{"@type":"type.googleapis.com/codec.test.v1.Nested","id":3,"child":{"label":"x"}},"anys":[{"@type":"type.googleapis.com/google.protobuf.Timestamp","value":"1970-01-01T00:00:00Z"},{}]}}""")]
    [InlineData("""{"wkt":{"any":{"id":3,"@type":"type.googleapis.com/codec.test.v1.Nested"},"boxes":[1,"2",-3],"values":[null,"s",{"k":1}]}}""")]
    [InlineData("""{"repeats":{"d":[1,"NaN",-0],"i64":["1",2],"colors":["COLOR_RED",7],"by":["","AA=="],"unpacked":[0,0,-1],"nested":[{},{"id":1}]},"more":[{},{"nested":{"children":[{}]}}]}""")]
    [InlineData("""{}""")]
    public void Json_ReadIntoTheBytesJsonParserWouldGive(string json)
    {
        var expected = s_oracleParser.Parse(json, Everything.Descriptor).ToByteArray();

        var actual = s_codec.JsonToBinary(Loaded(Everything.Descriptor), Encoding.UTF8.GetBytes(json));

        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(actual));
    }

    [Theory]
    [InlineData("""{"scalars":{"i32":"x"}}""", "scalars.i32")]
    [InlineData("""{"scalars":{"i32":1.5}}""", "scalars.i32")]
    [InlineData("""{"scalars":{"i32":2147483648}}""", "scalars.i32")]
    [InlineData("""{"scalars":{"u32":-1}}""", "scalars.u32")]
    [InlineData("""{"scalars":{"i64":"9223372036854775808"}}""", "scalars.i64")]
    [InlineData("""{"scalars":{"i64":"+1"}}""", "scalars.i64")]
    [InlineData("""{"scalars":{"i64":"01"}}""", "scalars.i64")]
    [InlineData("""{"scalars":{"f":1e39}}""", "scalars.f")]
    [InlineData("""{"scalars":{"d":"infinity"}}""", "scalars.d")]
    [InlineData("""{"scalars":{"b":"true"}}""", "scalars.b")]
    [InlineData("""{"scalars":{"s":1}}""", "scalars.s")]
    [InlineData("""{"scalars":{"by":"not base64!"}}""", "scalars.by")]
    [InlineData("""{"scalars":{"color":"COLOR_BLUE"}}""", "scalars.color")]
    [InlineData("""{"scalars":{"unknown":1}}""", "scalars.unknown")]
    [InlineData("""{"scalars":[]}""", "scalars")]
    [InlineData("""{"repeats":{"i32":[1,null]}}""", "repeats.i32[1]")]
    [InlineData("""{"repeats":{"nested":[{},{"id":"x"}]}}""", "repeats.nested[1].id")]
    [InlineData("""{"repeats":{"i32":{}}}""", "repeats.i32")]
    [InlineData("""{"maps":{"bS":{"yes":"t"}}}""", "maps.bS[\"yes\"]")]
    [InlineData("""{"maps":{"i32I64":{"1.5":"1"}}}""", "maps.i32I64[\"1.5\"]")]
    [InlineData("""{"maps":{"ss":{"a":null}}}""", "maps.ss[\"a\"]")]
    [InlineData("""{"presence":{"text":"a","number":"1"}}""", "presence.number")]
    [InlineData("""{"presence":{"maybe":1,"maybe":2}}""", "presence.maybe")]
    [InlineData("""{"wkt":{"at":"2026-13-01T00:00:00Z"}}""", "wkt.at")]
    [InlineData("""{"wkt":{"took":"1.5"}}""", "wkt.took")]
    [InlineData("""{"wkt":{"at":1}}""", "wkt.at")]
    [InlineData("""{"wkt":{"any":{"@type":"type.googleapis.com/no.Such"}}}""", "wkt.any.@type")]
    [InlineData("""{"wkt":{"any":{"@type":"nonsense"}}}""", "wkt.any.@type")]
    [InlineData("""{"wkt":{"any":{"@type":"type.googleapis.com/codec.test.v1.Nested","id":"x"}}}""", "wkt.any.id")]
    [InlineData("""{"wkt":{"any":{"@type":"type.googleapis.com/google.protobuf.Timestamp","value":"yesterday"}}}""", "wkt.any.value")]
    [InlineData("""{"wkt":{"i32v":"x"}}""", "wkt.i32v")]
    [InlineData("""{"more":[{"more":[{"scalars":{"b":1}}]}]}""", "more[0].more[0].scalars.b")]
    public void MalformedJson_RefusedWithThePathOfTheField(string json, string path)
    {
        var oracleRefuses = Record.Exception(() => s_oracleParser.Parse(json, Everything.Descriptor));

        var refusal = Assert.Throws<MessageCodecException>(() => s_codec.ParseJson(Loaded(Everything.Descriptor), Encoding.UTF8.GetBytes(json)));

        Assert.NotNull(oracleRefuses);
        Assert.Equal(path, refusal.Path);
        Assert.StartsWith(path + ": ", refusal.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"scalars":{"i32":1}""")]
    [InlineData("[]")]
    [InlineData("\"text\"")]
    public void NotAJsonObject_Refused(string json)
    {
        Assert.Throws<MessageCodecException>(() => s_codec.ParseJson(Loaded(Everything.Descriptor), Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void NestingBeyondTheLimit_RefusedInJsonAndInBinary()
    {
        var codec = new DescriptorCodec(s_loaded, new MessageCodecLimits { MaxDepth = 10 });
        var deep = new Nested();
        var json = new StringBuilder("{");
        for (var (level, at) = (0, deep); level < 12; level++, at = at.Child)
        {
            at.Child = new Nested { Id = level };
            json.Append("\"child\":{");
        }

        json.Append('}', 13);
        var type = Loaded(Nested.Descriptor);

        var fromJson = Assert.Throws<MessageCodecException>(() => codec.ParseJson(type, Encoding.UTF8.GetBytes(json.ToString())));
        var fromBinary = Assert.Throws<MessageCodecException>(() => codec.ParseBinary(type, deep.ToByteArray()));

        Assert.Contains("deeper than 10", fromJson.Message, StringComparison.Ordinal);
        Assert.StartsWith("child.child.child", fromJson.Path, StringComparison.Ordinal);
        Assert.Contains("deeper than 10", fromBinary.Message, StringComparison.Ordinal);
        // Within the limit, the same shape reads.
        Assert.NotNull(new DescriptorCodec(s_loaded).ParseBinary(type, deep.ToByteArray()));
    }

    [Fact]
    public void RepeatedFieldsBeyondTheLimit_RefusedInJsonAndInBinary()
    {
        var codec = new DescriptorCodec(s_loaded, new MessageCodecLimits { MaxRepeated = 100 });
        var many = new Repeats();
        many.I32.Add(Enumerable.Range(0, 101));
        var json = "{\"i32\":[" + string.Join(',', Enumerable.Range(0, 101)) + "]}";
        var type = Loaded(Repeats.Descriptor);

        Assert.Equal("i32", Assert.Throws<MessageCodecException>(() => codec.ParseJson(type, Encoding.UTF8.GetBytes(json))).Path);
        Assert.Contains("More than 100", Assert.Throws<MessageCodecException>(() => codec.ParseBinary(type, many.ToByteArray())).Message, StringComparison.Ordinal);
        many.I32.RemoveAt(0);
        Assert.Equal(many.ToByteArray(), DescriptorCodec.ToBinary(codec.ParseBinary(type, many.ToByteArray())));
    }

    [Theory]
    [InlineData("0A")]              // a length-delimited field cut short
    [InlineData("08FFFFFFFFFFFFFFFFFFFF01")] // a varint of 11 bytes
    [InlineData("00")]              // field number 0
    [InlineData("0F")]              // wire type 7
    [InlineData("0A05080112")]      // a nested message whose length runs past the end
    public void MalformedBinary_Refused(string hex)
    {
        Assert.Throws<InvalidProtocolBufferException>(() => Everything.Parser.ParseFrom(Convert.FromHexString(hex)));
        Assert.Throws<MessageCodecException>(() => s_codec.ParseBinary(Loaded(Everything.Descriptor), Convert.FromHexString(hex)));
    }

    [Fact]
    public void BinaryAsOtherEncodersWriteIt_FieldsOutOfOrderRepeatedAndUnknown_ReadAsGeneratedCodeReadsIt()
    {
        // Out of order, a singular field twice (last wins), a message field twice (merged), an unpacked list of a
        // packed field, a packed list of an unpacked one, an unknown field and a field of the wrong wire type.
        var output = new MemoryStream();
        var coded = new CodedOutputStream(output);
        coded.WriteTag(7, WireFormat.WireType.LengthDelimited); coded.WriteBytes(new Nested { Id = 1 }.ToByteString());
        coded.WriteTag(1, WireFormat.WireType.LengthDelimited); coded.WriteBytes(new Scalars { I32 = 5, S = "first" }.ToByteString());
        coded.WriteTag(1, WireFormat.WireType.LengthDelimited); coded.WriteBytes(new Scalars { S = "second" }.ToByteString());
        coded.WriteTag(7, WireFormat.WireType.LengthDelimited); coded.WriteBytes(new Nested { Label = "merged" }.ToByteString());
        coded.WriteTag(99, WireFormat.WireType.Varint); coded.WriteInt32(1);
        var repeats = new MemoryStream();
        var inner = new CodedOutputStream(repeats);
        inner.WriteTag(3, WireFormat.WireType.Varint); inner.WriteInt32(1);
        inner.WriteTag(3, WireFormat.WireType.Varint); inner.WriteInt32(-2);
        inner.WriteTag(17, WireFormat.WireType.LengthDelimited); inner.WriteBytes(ByteString.CopyFrom(1, 2, 3));
        inner.WriteTag(14, WireFormat.WireType.Varint); inner.WriteInt32(4);
        inner.Flush();
        coded.WriteTag(2, WireFormat.WireType.LengthDelimited); coded.WriteBytes(ByteString.CopyFrom(repeats.ToArray()));
        coded.Flush();
        var bytes = output.ToArray();
        var generated = Everything.Parser.ParseFrom(bytes);

        var json = Encoding.UTF8.GetString(s_codec.BinaryToJson(Loaded(Everything.Descriptor), bytes));

        Assert.Equal(Encoding.UTF8.GetString(s_oracle.FormatUtf8(generated)), json);
        Assert.Contains("\"label\":\"merged\"", json, StringComparison.Ordinal);
        Assert.Equal(Convert.ToHexString(WithoutUnknownFields(generated).ToByteArray()),
            Convert.ToHexString(DescriptorCodec.ToBinary(s_codec.ParseBinary(Loaded(Everything.Descriptor), bytes))));
    }

    [Theory]
    [InlineData(253402300800L, 0)]  // after the year 9999
    [InlineData(0L, -1)]            // nanos out of range
    public void TimestampOutOfRange_RefusedLikeJsonFormatter(long seconds, int nanos)
    {
        var message = new WellKnown { At = new Timestamp { Seconds = seconds, Nanos = nanos } };

        Assert.ThrowsAny<InvalidOperationException>(() => s_oracle.Formatter.Format(message));
        Assert.Throws<MessageCodecException>(() => s_codec.BinaryToJson(Loaded(WellKnown.Descriptor), message.ToByteArray()));
    }

    private static void AssertLikeGenerated(IMessage built, string what)
    {
        // What crosses the wire: a value the encoding does not carry (-0 in a field without presence) is not compared.
        var bytes = built.ToByteArray();
        var message = built.Descriptor.Parser.ParseFrom(bytes);
        var type = Loaded(message.Descriptor);

        var expectedJson = Encoding.UTF8.GetString(s_oracle.FormatUtf8(message));
        var json = s_codec.BinaryToJson(type, bytes);
        Assert.True(expectedJson == Encoding.UTF8.GetString(json), $"{what}: JSON differs\nexpected {expectedJson}\nactual   {Encoding.UTF8.GetString(json)}");

        var expectedBytes = s_oracleParser.Parse(expectedJson, message.Descriptor).ToByteArray();
        var parsed = s_codec.JsonToBinary(type, json);
        Assert.True(expectedBytes.AsSpan().SequenceEqual(parsed), $"{what}: JSON read differently\n{expectedJson}\nexpected {Convert.ToHexString(expectedBytes)}\nactual   {Convert.ToHexString(parsed)}");

        var rewritten = DescriptorCodec.ToBinary(s_codec.ParseBinary(type, bytes));
        Assert.True(bytes.AsSpan().SequenceEqual(rewritten), $"{what}: binary re-written differently\nexpected {Convert.ToHexString(bytes)}\nactual   {Convert.ToHexString(rewritten)}");
    }

    private static Everything WithoutUnknownFields(Everything message)
    {
        // Generated code keeps unknown fields and writes them back; the codec drops them (JSON has no place for them).
        var copy = new Everything();
        copy.MergeFrom(message);
        return Everything.Parser.ParseFrom(DescriptorCodec.ToBinary(s_codec.ParseBinary(Loaded(Everything.Descriptor), copy.ToByteArray())));
    }

    private static MessageDescriptor Loaded(MessageDescriptor generated) =>
        s_loaded.SelectMany(f => f.MessageTypes).SelectMany(WithNested).Single(t => t.FullName == generated.FullName);

    private static IEnumerable<MessageDescriptor> WithNested(MessageDescriptor type) => type.NestedTypes.SelectMany(WithNested).Prepend(type);
}
