using System.Text;

namespace Gateway.Tests.Infrastructure;

/// <summary>One Server-Sent Event: its fields as the lines gave them (null when a line was absent).</summary>
public sealed record SseMessage(string? Id, string? Event, string Data);

/// <summary>Reads a <c>text/event-stream</c> response line by line, as the SSE format defines it, over a plain HTTP client.</summary>
public sealed class SseReader : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _lines;

    private SseReader(HttpResponseMessage response, Stream body)
    {
        _response = response;
        _lines = new StreamReader(body, Encoding.UTF8);
    }

    public HttpResponseMessage Head => _response;

    public static async Task<SseReader> OpenAsync(GatewayServer server, string path, string? lastEventId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        HttpResponseMessage response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestClient.Deadline);
        return new SseReader(response, await response.Content.ReadAsStreamAsync(TestClient.Deadline));
    }

    /// <summary>The next comment line's text (after the colon and one space); fails on anything else.</summary>
    public async Task<string> ReadCommentAsync()
    {
        string? line = await _lines.ReadLineAsync(TestClient.Deadline);
        Assert.That(line, Does.StartWith(": "), "expected a comment");
        string blank = (await _lines.ReadLineAsync(TestClient.Deadline))!;
        Assert.That(blank, Is.Empty);
        return line![2..];
    }

    /// <summary>The next event: lines up to a blank one. Comment lines in between are skipped.</summary>
    public async Task<SseMessage> ReadAsync()
    {
        string? id = null, name = null;
        var data = new List<string>();
        while (true)
        {
            string? line = await _lines.ReadLineAsync(TestClient.Deadline);
            Assert.That(line, Is.Not.Null, "the stream ended");
            if (line!.Length == 0)
            {
                if (data.Count > 0 || name is not null)
                {
                    return new SseMessage(id, name, string.Join('\n', data));
                }

                continue;
            }

            if (line.StartsWith(':'))
            {
                continue;
            }

            int colon = line.IndexOf(':');
            string field = line[..colon];
            string value = line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id": id = value; break;
                case "event": name = value; break;
                case "data": data.Add(value); break;
            }
        }
    }

    /// <summary>True when the server has ended the response.</summary>
    public async Task<bool> AtEndAsync() => await _lines.ReadLineAsync(TestClient.Deadline) is null;

    public ValueTask DisposeAsync()
    {
        _lines.Dispose();
        _response.Dispose();
        return ValueTask.CompletedTask;
    }
}
