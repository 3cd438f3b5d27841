using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Console;

namespace Gateway.Diagnostics;

/// <summary>
/// The console logger without log scopes. The gateway's console formats print no scopes, yet a
/// provider that keeps them makes every scope opened anywhere real: Kestrel opens one for each
/// connection and it stays in the connection's execution context for the connection's life (an
/// object, its state and a context, about 190 bytes of heap per idle connection; docs/benchmarks.md).
/// This provider hands out loggers whose scopes are empty, so nothing is kept.
/// </summary>
/// <remarks>
/// It answers to the console's alias, so <c>Logging:Console:LogLevel</c> filters it as before.
/// It does not implement <see cref="ISupportExternalScope"/>: that is what keeps the logging factory
/// from making a scope store at all.
/// </remarks>
[ProviderAlias("Console")]
internal sealed class ScopelessConsoleProvider(ConsoleLoggerProvider console) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new ScopelessLogger(console.CreateLogger(categoryName));

    // The console provider is the container's own singleton; the container disposes it.
    public void Dispose()
    {
    }

    private sealed class ScopelessLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            inner.Log(logLevel, eventId, state, exception, formatter);
    }
}

internal static class ScopelessConsoleRegistration
{
    /// <summary>
    /// Replaces the console provider that <c>AddSimpleConsole</c> or <c>AddJsonConsole</c> registered
    /// with one that keeps no scopes; the console provider itself, its options and formatters stay.
    /// </summary>
    public static ILoggingBuilder WithoutScopes(this ILoggingBuilder logging)
    {
        IServiceCollection services = logging.Services;
        ServiceDescriptor? registered = services.FirstOrDefault(d => d.ServiceType == typeof(ILoggerProvider) && d.ImplementationType == typeof(ConsoleLoggerProvider));
        if (registered is null)
        {
            return logging;
        }

        services.Remove(registered);
        services.TryAddSingleton<ConsoleLoggerProvider>();
        services.AddSingleton<ILoggerProvider, ScopelessConsoleProvider>();
        return logging;
    }
}
