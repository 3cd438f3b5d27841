using Gateway.Configuration;
using Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Gateway.Tests.Sessions;

/// <summary>A session takes the first profile that matches its name; what that profile leaves out comes from the globals (spec section 20).</summary>
public sealed class SessionProfilesTests
{
    private static readonly SessionProfileOptions[] Profiles =
    [
        new() { Match = "build-nightly", History = new() { MaxBytes = 4096 } },
        new() { Match = "build-*", History = new() { MaxEvents = 5000 }, CompletedRetention = TimeSpan.FromDays(1) },
        new() { Match = "train-*", Conflate = ["step_update", "progress.*"], MaxLagBytes = 32L << 20 },
        new() { Match = "chat-*", Presence = true, ClientPublishEvents = ["message"], IdleTimeout = TimeSpan.FromMinutes(10), MaxLagTime = TimeSpan.FromSeconds(5) },
        new() { Match = "lobby", Presence = false },
        new() { Match = "chat-archive", History = new() { MaxEvents = 1 } },
    ];

    private static SessionProfiles Resolver(SessionProfileOptions[]? profiles = null) => new(
        Options.Create(new HistoryOptions { MaxEvents = 1000, MaxBytes = 0 }),
        Options.Create(new SessionsOptions { Profiles = profiles ?? Profiles, Conflate = ["build_progress"], IdleTimeout = TimeSpan.FromHours(1) }),
        Options.Create(new PresenceOptions { Enabled = false }),
        Options.Create(new SecurityOptions { ClientPublishEvents = ["typing"] }),
        Options.Create(new LimitsOptions()),
        TimeProvider.System);

    // Session, the profile it takes (-1: none), its MaxEvents, MaxBytes.
    [TestCase("build-nightly", 0, 1000, 4096L, Description = "the exact name comes first, so it wins; MaxEvents falls back to the global, not to build-*'s")]
    [TestCase("build-42", 1, 5000, 0L)]
    [TestCase("build-", 1, 5000, 0L, Description = "a prefix matches the bare prefix too")]
    [TestCase("build", -1, 1000, 0L)]
    [TestCase("xbuild-1", -1, 1000, 0L, Description = "a prefix matches at the start only")]
    [TestCase("train-7", 2, 1000, 0L)]
    [TestCase("lobby", 4, 1000, 0L)]
    [TestCase("lobby-2", -1, 1000, 0L, Description = "an exact name is not a prefix")]
    [TestCase("chat-archive", 3, 1000, 0L, Description = "chat-* comes first, so the later exact profile never applies (validation refuses that order)")]
    public void The_first_profile_that_matches_wins(string session, int profile, int maxEvents, long maxBytes)
    {
        SessionSettings settings = Resolver().For(session);

        Assert.That(settings.Profile, Is.EqualTo(profile < 0 ? null : $"Gateway:Sessions:Profiles:{profile}"));
        Assert.That(settings.HistoryMaxEvents, Is.EqualTo(maxEvents));
        Assert.That(settings.HistoryMaxBytes, Is.EqualTo(maxBytes));
    }

    [Test]
    public void What_a_profile_leaves_out_comes_from_the_globals()
    {
        SessionProfiles profiles = Resolver();
        SessionSettings build = profiles.For("build-1");
        SessionSettings chat = profiles.For("chat-1");
        SessionSettings train = profiles.For("train-1");
        SessionSettings lobby = profiles.For("lobby");
        SessionSettings other = profiles.For("other");

        Assert.Multiple(() =>
        {
            Assert.That(build.CompletedRetention, Is.EqualTo(TimeSpan.FromDays(1)));
            Assert.That(build.IdleTimeout, Is.EqualTo(TimeSpan.FromHours(1)), "global IdleTimeout");
            Assert.That(chat.IdleTimeout, Is.EqualTo(TimeSpan.FromMinutes(10)));
            Assert.That(chat.CompletedRetention, Is.EqualTo(SessionsOptions.DefaultCompletedRetention), "global CompletedRetention");

            // Presence: the global is off; chat-* turns it on, lobby states off, the rest inherit.
            Assert.That(chat.Presence, Is.True);
            Assert.That(chat.PresenceKey, Is.EqualTo("Gateway:Sessions:Profiles:3:Presence"));
            Assert.That(lobby.Presence, Is.False);
            Assert.That(lobby.PresenceKey, Is.EqualTo("Gateway:Sessions:Profiles:4:Presence"));
            Assert.That(build.Presence, Is.False);
            Assert.That(build.PresenceKey, Is.EqualTo("Gateway:Presence:Enabled"));

            // Client publishing: chat-* has its own names; the rest the global's.
            Assert.That(chat.ClientPublishEvents.Allows("message"), Is.True);
            Assert.That(chat.ClientPublishEvents.Allows("typing"), Is.False);
            Assert.That(chat.ClientPublishEventsKey, Is.EqualTo("Gateway:Sessions:Profiles:3:ClientPublishEvents"));
            Assert.That(other.ClientPublishEvents.Allows("typing"), Is.True);
            Assert.That(other.ClientPublishEvents.Allows("message"), Is.False);
            Assert.That(other.ClientPublishEventsKey, Is.EqualTo("Gateway:Security:ClientPublishEvents"));

            // Conflate: train-* replaces the global list, names and prefixes.
            Assert.That(train.Conflates("step_update"), Is.True);
            Assert.That(train.Conflates("progress.epoch"), Is.True);
            Assert.That(train.Conflates("build_progress"), Is.False);
            Assert.That(other.Conflates("build_progress"), Is.True);
            Assert.That(other.Conflates("step_update"), Is.False);

            // Lag: a profile that gives one bound takes the other from Limits.
            Assert.That(train.Lag.MaxBytes, Is.EqualTo(32L << 20));
            Assert.That(train.Lag.MaxAge, Is.EqualTo(other.Lag.MaxAge));
            Assert.That(chat.Lag.MaxBytes, Is.EqualTo(LimitsOptions.DefaultMaxLagBytes));
            Assert.That(chat.Lag.MaxAge, Is.EqualTo((long)(5 * TimeProvider.System.TimestampFrequency)));
            Assert.That(other.Lag.MaxBytes, Is.EqualTo(LimitsOptions.DefaultMaxLagBytes));
        });
    }

    [Test]
    public void Each_session_of_a_profile_shares_one_settings_object()
    {
        SessionProfiles profiles = Resolver();

        Assert.That(profiles.For("build-1"), Is.SameAs(profiles.For("build-2")));
        Assert.That(profiles.For("a"), Is.SameAs(profiles.Default));
    }

    [Test]
    public void The_shared_bounds_cover_every_profile()
    {
        SessionProfiles profiles = Resolver();

        Assert.That(profiles.LongestHistory, Is.EqualTo(5000), "a join's read must cover build-*'s history");
        Assert.That(profiles.ShortestIdleTimeout, Is.EqualTo(TimeSpan.FromMinutes(10)));
        Assert.That(profiles.ShortestCompletedRetention, Is.EqualTo(SessionsOptions.DefaultCompletedRetention));
    }

    [Test]
    public void Without_profiles_every_session_takes_the_globals()
    {
        SessionProfiles profiles = Resolver([]);

        Assert.That(profiles.For("build-1"), Is.SameAs(profiles.Default));
        Assert.That(profiles.LongestHistory, Is.EqualTo(1000));
    }

    [TestCase("*", "anything", true)]
    [TestCase("*", "*", true)]
    [TestCase("build-*", "build-n*", true)]
    [TestCase("build-*", "build-1", true)]
    [TestCase("build-1", "build-*", false)]
    [TestCase("build-1", "build-1", true)]
    [TestCase("build-1", "build-12", false)]
    [TestCase("chat-*", "build-*", false)]
    public void A_profile_covers_another_when_it_matches_all_its_sessions(string earlier, string later, bool covers) =>
        Assert.That(SessionProfiles.Covers(earlier, later), Is.EqualTo(covers));
}
