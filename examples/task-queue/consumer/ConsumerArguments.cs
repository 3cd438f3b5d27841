using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace TaskQueueConsumer;

/// <summary>The consumer's command line.</summary>
internal sealed class ConsumerArguments
{
    public const string DefaultGateway = "http://127.0.0.1:8080";

    public const string Usage = """
        usage: TaskQueueConsumer [--session NAME] [--since SEQ] [--until-drained]
          --session NAME    the queue's session (default queue:default)
          --since SEQ       start after this seq; 0 for every event the gateway's history holds
                            (default: the tasks that end from now on)
          --until-drained   exit after the first queue_drained summary
        The gateway's address comes from GATEWAY_URL (default http://127.0.0.1:8080).
        """;

    public string Session { get; private set; } = "queue:default";

    public long? Since { get; private set; }

    public bool UntilDrained { get; private set; }

    public bool Help { get; private set; }

    public static bool TryParse(string[] args, [NotNullWhen(true)] out ConsumerArguments? parsed, [NotNullWhen(false)] out string? problem)
    {
        parsed = new ConsumerArguments();
        problem = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--session" when i + 1 < args.Length:
                    parsed.Session = args[++i];
                    break;
                case "--since" when i + 1 < args.Length:
                    if (!long.TryParse(args[++i], NumberStyles.None, CultureInfo.InvariantCulture, out long since))
                    {
                        problem = $"--since takes a seq, an integer of 0 or more, not '{args[i]}'";
                        break;
                    }

                    parsed.Since = since;
                    break;
                case "--until-drained":
                    parsed.UntilDrained = true;
                    break;
                case "--help" or "-h":
                    parsed.Help = true;
                    break;
                case "--session" or "--since":
                    problem = $"{args[i]} needs a value";
                    break;
                default:
                    problem = $"unknown argument '{args[i]}'";
                    break;
            }

            if (problem is not null)
            {
                parsed = null;
                return false;
            }
        }

        return true;
    }

    /// <summary>The session's WebSocket address from the gateway's http(s) address: <c>ws://host:port/ws/{session}</c>.</summary>
    public static bool TryWebSocketUrl(string gateway, string session, [NotNullWhen(true)] out Uri? url, [NotNullWhen(false)] out string? problem)
    {
        url = null;
        if (!Uri.TryCreate(gateway, UriKind.Absolute, out Uri? address) || (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps))
        {
            problem = $"GATEWAY_URL must be the gateway's http:// or https:// address, such as {DefaultGateway}, not '{gateway}'";
            return false;
        }

        var builder = new UriBuilder(address)
        {
            Scheme = address.Scheme == Uri.UriSchemeHttps ? "wss" : "ws",
            Path = address.AbsolutePath.TrimEnd('/') + "/ws/" + session,
            Query = string.Empty,
        };
        url = builder.Uri;
        problem = null;
        return true;
    }
}
