using System.Text;
using Gateway.Protocol.Framing;
using Gateway.Sessions;

namespace Gateway.Tests.Sessions;

/// <summary>
/// <see cref="SessionEvent.ServerSentEvent"/>: the exact bytes of each SSE form (spec section 5),
/// each built once and then the same array for every stream that asks.
/// </summary>
public sealed class SessionEventTests
{
    private const string Json = """{"type":"event","session":"s","event":"build_progress","seq":19,"data":1}""";

    [TestCase(false, "id: 3f9a2c41b7e0:19\ndata: " + Json + "\n\n")]
    [TestCase(true, "id: 3f9a2c41b7e0:19\nevent: build_progress\ndata: " + Json + "\n\n")]
    public void Each_form_is_the_id_an_event_line_when_named_and_the_websocket_object(bool named, string expected)
    {
        SessionEvent e = Create();
        Assert.That(Encoding.UTF8.GetString(e.ServerSentEvent("3f9a2c41b7e0", named)), Is.EqualTo(expected));
    }

    [Test]
    public void Each_form_is_built_once_and_shared_and_a_new_life_builds_it_again()
    {
        SessionEvent e = Create();
        byte[] plain = e.ServerSentEvent("3f9a2c41b7e0", named: false);
        byte[] named = e.ServerSentEvent("3f9a2c41b7e0", named: true);

        Assert.That(e.ServerSentEvent("3f9a2c41b7e0", named: false), Is.SameAs(plain), "every stream gets the same bytes, not a copy");
        Assert.That(e.ServerSentEvent("3f9a2c41b7e0", named: true), Is.SameAs(named), "building one form does not evict the other");
        Assert.That(Encoding.UTF8.GetString(e.ServerSentEvent("0a1b2c3d4e5f", named: false)), Does.StartWith("id: 0a1b2c3d4e5f:19\n"));
    }

    private static SessionEvent Create() =>
        new("s", "build_progress", 19, DateTimeOffset.UnixEpoch, "1"u8.ToArray(), WebSocketFrameWriter.CreateFrame(WebSocketOpcode.Text, Encoding.UTF8.GetBytes(Json)), id: null, final: false);
}
