using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gateway.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Security;

/// <summary>
/// Checks JWTs (spec section 6): the signature with HS256 and <c>Auth:SigningKey</c>, or RS256 and
/// a PEM public key, and no other algorithm (<c>alg: none</c> included); <c>exp</c> (required) and
/// <c>nbf</c> against this gateway's clock with <c>Auth:ClockSkew</c>; <c>iss</c> and <c>aud</c>
/// when configured; and the claims: <c>sub</c> (required), <c>sessions</c>, <c>publish</c>, <c>admin</c>.
/// </summary>
internal sealed class TokenValidator
{
    /// <summary>The largest token accepted; real tokens are a few hundred bytes.</summary>
    public const int MaxTokenBytes = 8192;

    private readonly JsonWebTokenHandler _handler = new() { MaximumTokenSizeInBytes = MaxTokenBytes };
    private readonly TokenValidationParameters _parameters;
    private readonly TimeProvider _time;
    private readonly TimeSpan _skew;

    // Whether a principal keeps its token's payload: only the authorize call reads it.
    private readonly bool _keepClaims;

    public TokenValidator(IOptions<AuthOptions> options, TimeProvider time, IOptions<HooksOptions> hooks)
    {
        _keepClaims = !string.IsNullOrEmpty(hooks.Value.Authorize);
        AuthOptions auth = options.Value;
        _time = time;
        _skew = auth.ClockSkew;
        SecurityKey? key = null;
        string algorithm = SecurityAlgorithms.HmacSha256;
        if (auth.IsJwt)
        {
            if (!string.IsNullOrEmpty(auth.SigningKey))
            {
                key = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(auth.SigningKey));
            }
            else
            {
                key = TryLoadPublicKey(auth, out _);
                algorithm = SecurityAlgorithms.RsaSha256;
            }
        }

        _parameters = new TokenValidationParameters
        {
            IssuerSigningKey = key,
            ValidAlgorithms = [algorithm],
            RequireSignedTokens = true,
            ValidateIssuerSigningKey = true,
            // One key; tokens need not name it with a kid.
            TryAllIssuerSigningKeys = true,

            // Lifetime is checked below, on this gateway's clock, with messages of our own.
            ValidateLifetime = false,
            RequireExpirationTime = false,
            ValidateIssuer = !string.IsNullOrEmpty(auth.Issuer),
            ValidIssuer = auth.Issuer,
            ValidateAudience = !string.IsNullOrEmpty(auth.Audience),
            ValidAudience = auth.Audience,
        };
        Algorithm = algorithm;
    }

    /// <summary>The one algorithm accepted: HS256 or RS256.</summary>
    public string Algorithm { get; }

    /// <summary>Checks <paramref name="token"/>; the failure text says what was wrong without echoing the token.</summary>
    public async ValueTask<(GatewayPrincipal? Principal, string? Failure)> ValidateAsync(string token)
    {
        if (token.Length > MaxTokenBytes)
        {
            return (null, $"token larger than {MaxTokenBytes} bytes");
        }

        TokenValidationResult result;
        try
        {
            // The algorithm is checked first, so that a refusal says so rather than "bad signature".
            string algorithm = _handler.ReadJsonWebToken(token).Alg;
            if (algorithm != Algorithm)
            {
                return (null, $"token algorithm '{Printable(algorithm)}' not accepted; this gateway takes {Algorithm} only");
            }

            result = await _handler.ValidateTokenAsync(token, _parameters);
        }
        catch (Exception e) when (e is ArgumentException or SecurityTokenException or JsonException)
        {
            return (null, "token is not a valid JWT");
        }

        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt)
        {
            return (null, Describe(result.Exception, Algorithm));
        }

        DateTimeOffset now = _time.GetUtcNow();
        if (!jwt.TryGetPayloadValue("exp", out long _))
        {
            return (null, "token has no exp claim; tokens must expire");
        }

        if (new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero) + _skew <= now)
        {
            return (null, "token expired");
        }

        if (jwt.TryGetPayloadValue("nbf", out long _) && new DateTimeOffset(jwt.ValidFrom, TimeSpan.Zero) - _skew > now)
        {
            return (null, "token not valid yet (nbf is in the future)");
        }

        if (string.IsNullOrEmpty(jwt.Subject))
        {
            return (null, "token has no sub claim");
        }

        // The gateway's own claims are read from the payload as JSON, whatever their type, so that a
        // wrong type is an error rather than silently no grant.
        byte[] payloadBytes = Base64UrlEncoder.DecodeBytes(jwt.EncodedPayload);
        using JsonDocument payload = JsonDocument.Parse(payloadBytes);
        JsonElement claims = payload.RootElement;
        if (!TryReadGrant(claims, "sessions", watch: null, out SessionGrant watch, out string? error)
            || !TryReadGrant(claims, "publish", watch, out SessionGrant publish, out error))
        {
            return (null, error);
        }

        byte[]? info = null;
        if (claims.TryGetProperty("info", out JsonElement infoClaim)
            && !ClientIdentity.TryParseInfo(System.Text.Encoding.UTF8.GetBytes(infoClaim.GetRawText()), out info, out string? problem))
        {
            return (null, "token claim info " + problem);
        }

        bool admin = claims.TryGetProperty("admin", out JsonElement adminClaim) && adminClaim.ValueKind == JsonValueKind.True;
        return (new GatewayPrincipal(jwt.Subject, CredentialKind.Token, watch, publish, admin, new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero) + _skew) { Info = info, Claims = _keepClaims ? payloadBytes : null }, null);
    }

    /// <summary>Loads the RSA public key of <paramref name="options"/>; null with an error text when it is not usable.</summary>
    public static RsaSecurityKey? TryLoadPublicKey(AuthOptions options, out string? error)
    {
        error = null;
        string? pem = options.PublicKey;
        if (string.IsNullOrEmpty(pem))
        {
            if (string.IsNullOrEmpty(options.PublicKeyFile))
            {
                return null;
            }

            try
            {
                pem = File.ReadAllText(options.PublicKeyFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error = $"cannot read '{options.PublicKeyFile}': {e.Message}";
                return null;
            }
        }

        try
        {
            var rsa = RSA.Create();
            rsa.ImportFromPem(pem);
            return new RsaSecurityKey(rsa);
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            error = "must be an RSA public key in PEM (-----BEGIN PUBLIC KEY-----)";
            return null;
        }
    }

    /// <summary>
    /// Reads <c>sessions</c> or <c>publish</c>: an array of patterns, one pattern, or (for
    /// <c>publish</c>) <c>true</c>, meaning the sessions the token may watch.
    /// </summary>
    private static bool TryReadGrant(JsonElement claims, string claim, SessionGrant? watch, out SessionGrant grant, out string? error)
    {
        grant = SessionGrant.None;
        error = null;
        if (!claims.TryGetProperty(claim, out JsonElement value))
        {
            return true;
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.True when watch is not null:
                grant = watch;
                return true;
            case JsonValueKind.False:
                grant = SessionGrant.None;
                return true;
            case JsonValueKind.String:
                return Parse([value.GetString()!], claim, out grant, out error);
            case JsonValueKind.Array when value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String):
                return Parse(value.EnumerateArray().Select(e => e.GetString()!), claim, out grant, out error);
            default:
                error = watch is null
                    ? $"token claim {claim} must be an array of session names or prefixes ending in *"
                    : $"token claim {claim} must be true, or an array of session names or prefixes ending in *";
                return false;
        }
    }

    private static bool Parse(IEnumerable<string> patterns, string claim, out SessionGrant grant, out string? error)
    {
        if (SessionGrant.TryParse(patterns, out grant, out string? problem))
        {
            error = null;
            return true;
        }

        error = $"token claim {claim}: {problem}";
        return false;
    }

    /// <summary>The header's <c>alg</c> as it may be echoed: short and plain, or a placeholder.</summary>
    private static string Printable(string? value) =>
        value is { Length: > 0 and <= 16 } && value.All(char.IsAsciiLetterOrDigit) ? value : "?";

    private static string Describe(Exception? e, string algorithm) => e switch
    {
        SecurityTokenInvalidAlgorithmException => $"token algorithm not accepted; this gateway takes {algorithm} only",
        SecurityTokenInvalidSignatureException or SecurityTokenSignatureKeyNotFoundException => "token signature is not valid",
        SecurityTokenInvalidAudienceException => "token audience is not accepted",
        SecurityTokenInvalidIssuerException => "token issuer is not accepted",
        SecurityTokenMalformedException => "token is not a valid JWT",
        SecurityTokenException => "token is not valid",
        _ => "token is not a valid JWT",
    };
}
