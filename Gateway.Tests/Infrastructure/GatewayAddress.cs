using System.Net.Http.Headers;

namespace Gateway.Tests.Infrastructure;

/// <summary>How tests reach a gateway at a base address, whether it runs in the test process or as a child process.</summary>
internal static class GatewayAddress
{
    /// <summary>An HTTP client for the gateway's API: JSON accepted, a timeout far past any test's deadline.</summary>
    public static HttpClient CreateHttpClient(Uri baseAddress)
    {
        var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return http;
    }

    /// <summary><c>ws://host:port/ws/{session}</c>, with <paramref name="query"/> when given.</summary>
    public static Uri WebSocket(Uri baseAddress, string session, string? query) =>
        new($"ws://{baseAddress.Authority}/ws/{session}{(query is null ? string.Empty : "?" + query)}");
}
