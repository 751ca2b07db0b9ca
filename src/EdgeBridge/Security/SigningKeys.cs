using Microsoft.Extensions.Hosting;

namespace EdgeBridge.Security;

/// <summary>The HS256 key shared with the token issuer, from <see cref="TokenOptions"/>.</summary>
internal static class SigningKeys
{
    private const int MinimumKeyBytes = 32;

    /// <summary>Why no usable key can be loaded, naming the setting; null when one can.</summary>
    public static string? Problem(TokenOptions tokens, IHostEnvironment environment)
    {
        try
        {
            Load(tokens, environment);
            return null;
        }
        catch (InvalidOperationException ex)
        {
            return ex.Message;
        }
    }

    public static byte[] Load(TokenOptions tokens, IHostEnvironment environment)
    {
        string encoded;
        string source;
        if (!string.IsNullOrWhiteSpace(tokens.SigningKey))
        {
            (encoded, source) = (tokens.SigningKey, "EdgeBridge:Tokens:SigningKey");
        }
        else if (!string.IsNullOrWhiteSpace(tokens.SigningKeyFile))
        {
            var path = Path.IsPathRooted(tokens.SigningKeyFile) ? tokens.SigningKeyFile : Path.Combine(environment.ContentRootPath, tokens.SigningKeyFile);
            if (!File.Exists(path))
            {
                throw new InvalidOperationException($"EdgeBridge:Tokens:SigningKeyFile '{path}' does not exist.");
            }

            (encoded, source) = (File.ReadAllText(path).Trim(), "EdgeBridge:Tokens:SigningKeyFile " + path);
        }
        else
        {
            throw new InvalidOperationException("EdgeBridge:Tokens:SigningKey or EdgeBridge:Tokens:SigningKeyFile must be set (or EdgeBridge:Tokens:Enabled set to false).");
        }

        byte[] key;
        try
        {
            key = Convert.FromBase64String(encoded);
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"The signing key from {source} is not base64.");
        }

        return key.Length >= MinimumKeyBytes
            ? key
            : throw new InvalidOperationException($"The signing key from {source} has {key.Length} bytes; at least {MinimumKeyBytes} are required.");
    }
}
