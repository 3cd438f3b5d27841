using System.Security.Cryptography;
using System.Text;
using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Security;

/// <summary>The server-side keys of <c>Auth:ApiKeys</c>, compared in constant time. Each grants everything.</summary>
internal sealed class ApiKeys(IOptions<AuthOptions> options)
{
    private readonly byte[][] _keys = options.Value.ApiKeys.Select(Encoding.UTF8.GetBytes).ToArray();

    /// <summary>The principal of the key, or null when it is not one of ours.</summary>
    public GatewayPrincipal? Find(string presented)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(presented);
        for (int i = 0; i < _keys.Length; i++)
        {
            if (CryptographicOperations.FixedTimeEquals(bytes, _keys[i]))
            {
                // The label names the key by its place in the configuration, never by its value.
                return new GatewayPrincipal($"api-key-{i}", CredentialKind.ApiKey, SessionGrant.All, SessionGrant.All, Admin: true, ExpiresAt: null);
            }
        }

        return null;
    }
}
