using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Tests.Infrastructure;

/// <summary>Mints JWTs for tests: good ones, and every kind of bad one a gateway must refuse.</summary>
public static class TestTokens
{
    /// <summary>64 bytes, so that an HS512 token can be signed with it too (and must still be refused).</summary>
    public const string SigningKey = "test-signing-key-of-64-bytes-so-that-hs512-tokens-can-be-minted!";
    public const string Issuer = "gateway-tests";
    public const string Audience = "gateway";
    public const string ApiKey = "test-api-key-0123456789";

    private static readonly JsonWebTokenHandler Handler = new();

    /// <summary>An RSA key pair for RS256 tests; its public half in PEM.</summary>
    public static readonly RSA Rsa = RSA.Create(2048);

    public static string RsaPublicKeyPem => Rsa.ExportSubjectPublicKeyInfoPem();

    /// <summary>The settings of a gateway that checks HS256 tokens minted here.</summary>
    public static Dictionary<string, string?> JwtSettings(IDictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Auth:Mode"] = "jwt",
            ["Gateway:Auth:SigningKey"] = SigningKey,
            ["Gateway:Auth:Issuer"] = Issuer,
            ["Gateway:Auth:Audience"] = Audience,
            ["Gateway:Auth:ApiKeys:0"] = ApiKey,
        };
        foreach (KeyValuePair<string, string?> pair in more ?? new Dictionary<string, string?>())
        {
            settings[pair.Key] = pair.Value;
        }

        return settings;
    }

    /// <summary>
    /// A token. Claims default to a valid one for <paramref name="sessions"/>; pass a claim as null
    /// (in <paramref name="without"/>) to leave it out.
    /// </summary>
    public static string Mint(
        object? sessions = null,
        object? publish = null,
        bool admin = false,
        string? subject = "user-1",
        DateTimeOffset? expires = null,
        DateTimeOffset? notBefore = null,
        string issuer = Issuer,
        string audience = Audience,
        string? key = null,
        string algorithm = SecurityAlgorithms.HmacSha256,
        bool rsa = false,
        IDictionary<string, object>? extra = null,
        params string[] without)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        var claims = new Dictionary<string, object>();
        if (subject is not null)
        {
            claims["sub"] = subject;
        }

        if (sessions is not null)
        {
            claims["sessions"] = sessions;
        }

        if (publish is not null)
        {
            claims["publish"] = publish;
        }

        if (admin)
        {
            claims["admin"] = true;
        }

        foreach (KeyValuePair<string, object> pair in extra ?? new Dictionary<string, object>())
        {
            claims[pair.Key] = pair.Value;
        }

        SecurityKey signingKey = rsa ? new RsaSecurityKey(Rsa) : new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key ?? SigningKey));
        var descriptor = new SecurityTokenDescriptor
        {
            Claims = claims,
            Issuer = issuer,
            Audience = audience,
            IssuedAt = (notBefore ?? now).UtcDateTime,
            NotBefore = (notBefore ?? now.AddMinutes(-1)).UtcDateTime,
            Expires = (expires ?? now.AddHours(1)).UtcDateTime,
            SigningCredentials = new SigningCredentials(signingKey, algorithm),
        };
        Handler.SetDefaultTimesOnTokenCreation = false;
        string token = Handler.CreateToken(descriptor);
        return without.Length == 0 ? token : Strip(token, without);
    }

    /// <summary>A token with <c>alg: none</c> and no signature, whatever its claims.</summary>
    public static string Unsigned(string sessions = "*")
    {
        string header = Base64Url("""{"alg":"none","typ":"JWT"}""");
        long exp = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        string payload = Base64Url($$"""{"sub":"intruder","sessions":["{{sessions}}"],"admin":true,"exp":{{exp}},"iss":"{{Issuer}}","aud":"{{Audience}}"}""");
        return $"{header}.{payload}.";
    }

    /// <summary>Re-signs a token's payload without some claims, with the test key (so that only the missing claim is wrong).</summary>
    private static string Strip(string token, string[] claims)
    {
        string[] parts = token.Split('.');
        var payload = System.Text.Json.Nodes.JsonNode.Parse(Base64UrlDecode(parts[1]))!.AsObject();
        foreach (string claim in claims)
        {
            payload.Remove(claim);
        }

        string body = $"{parts[0]}.{Base64Url(payload.ToJsonString())}";
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(SigningKey));
        string signature = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(hmac.ComputeHash(Encoding.ASCII.GetBytes(body)));
        return $"{body}.{signature}";
    }

    private static string Base64Url(string text) => Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(text));

    private static string Base64UrlDecode(string text) => Encoding.UTF8.GetString(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.DecodeBytes(text));
}
