namespace Gateway.Configuration;

/// <summary>The <c>Gateway:Presence</c> section: who is connected to a session (spec section 17).</summary>
internal sealed class PresenceOptions
{
    /// <summary>The section's path in configuration.</summary>
    public const string Section = "Gateway:Presence";

    /// <summary>Spec section 17: a presence answer lists at most 1000 connections; the counts cover them all.</summary>
    public const int DefaultMaxListed = 1000;

    /// <summary>
    /// Whether sessions keep presence: the <c>presence</c> message, <c>GET .../presence</c>, and
    /// <c>join</c>/<c>leave</c> to clients that ask. Off, none of it is kept (with Redis, nothing is
    /// written per connection), <c>presence</c> answers an <c>error</c> and the endpoint 403.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How many connections a presence answer lists at most (0 to 100,000; 0 lists none, the counts remain).</summary>
    public int MaxListed { get; set; } = DefaultMaxListed;
}
