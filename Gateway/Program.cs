using Gateway;
using Gateway.Configuration;

// The runtime's half of inline scheduling (Gateway:Transport:InlineScheduling is Kestrel's): socket
// completions run on the epoll thread instead of hopping to the thread pool. The runtime reads this
// from the environment only, once, at the first socket operation, so it is set before anything
// else; an operator's own value (0 turns it off) is left alone. Only the executable sets it: a
// process that hosts the gateway beside other code (the tests) keeps the runtime's default.
if (Environment.GetEnvironmentVariable(GatewayHost.InlineSocketCompletionsVariable) is null)
{
    Environment.SetEnvironmentVariable(GatewayHost.InlineSocketCompletionsVariable, "1");
}

try
{
    WebApplication app = GatewayHost.Build(args);
    await app.RunAsync();
    return 0;
}
catch (GatewayConfigurationException e)
{
    Console.Error.WriteLine($"gateway: {e.Message}");
    return 2;
}
