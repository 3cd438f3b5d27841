using System.Globalization;
using Microsoft.Extensions.Options;

namespace Gateway.Configuration;

/// <summary>
/// Checks every setting at start-up. Each failure names the key, what it accepts and what it got,
/// so that a bad value stops the gateway with a message an operator can act on.
/// </summary>
internal sealed class GatewayOptionsValidator :
    IValidateOptions<HistoryOptions>,
    IValidateOptions<SessionsOptions>,
    IValidateOptions<LimitsOptions>,
    IValidateOptions<HeartbeatOptions>,
    IValidateOptions<ShutdownOptions>
{
    public ValidateOptionsResult Validate(string? name, HistoryOptions options)
    {
        var errors = new List<string>();
        Range(errors, HistoryOptions.Section, nameof(options.MaxEvents), options.MaxEvents, 1, 1_000_000);
        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, SessionsOptions options)
    {
        var errors = new List<string>();
        Range(errors, SessionsOptions.Section, nameof(options.IdleTimeout), options.IdleTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromDays(365));
        Range(errors, SessionsOptions.Section, nameof(options.CompletedRetention), options.CompletedRetention, TimeSpan.FromSeconds(1), TimeSpan.FromDays(365));
        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, LimitsOptions options)
    {
        var errors = new List<string>();
        Range(errors, LimitsOptions.Section, nameof(options.MaxMessageBytes), options.MaxMessageBytes, 128, 16 * 1024 * 1024);
        Range(errors, LimitsOptions.Section, nameof(options.MaxPublishBytes), options.MaxPublishBytes, 1024, 64 * 1024 * 1024);
        Range(errors, LimitsOptions.Section, nameof(options.SendQueueMessages), options.SendQueueMessages, 1, 1_000_000);
        Range(errors, LimitsOptions.Section, nameof(options.CloseTimeout), options.CloseTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, HeartbeatOptions options)
    {
        var errors = new List<string>();
        Range(errors, HeartbeatOptions.Section, nameof(options.Interval), options.Interval, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        Range(errors, HeartbeatOptions.Section, nameof(options.Timeout), options.Timeout, TimeSpan.FromMilliseconds(20), TimeSpan.FromHours(24));
        if (options.Interval >= options.Timeout)
        {
            errors.Add($"{HeartbeatOptions.Section}:Interval ({Format(options.Interval)}) must be shorter than {HeartbeatOptions.Section}:Timeout ({Format(options.Timeout)}), or live clients would be evicted between pings");
        }

        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, ShutdownOptions options)
    {
        var errors = new List<string>();
        Range(errors, ShutdownOptions.Section, nameof(options.DrainTimeout), options.DrainTimeout, TimeSpan.Zero, TimeSpan.FromMinutes(10));
        return Result(errors);
    }

    private static void Range(List<string> errors, string section, string key, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{section}:{key} must be between {min} and {max}; got {value}"));
        }
    }

    private static void Range(List<string> errors, string section, string key, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            errors.Add($"{section}:{key} must be a duration between {Format(min)} and {Format(max)} (written like 00:00:15 for 15 s); got {Format(value)}");
        }
    }

    private static string Format(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);

    private static ValidateOptionsResult Result(List<string> errors) =>
        errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
}
