using Gateway;
using Gateway.Configuration;

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
