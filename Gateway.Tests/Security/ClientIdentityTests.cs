using System.Text;
using Gateway.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Gateway.Tests.Security;

/// <summary>What a client may say of itself (<c>user=</c>, <c>info=</c>, a token's <c>info</c>): accepted, compacted, or refused with what is accepted.</summary>
public sealed class ClientIdentityTests
{
    private static readonly object[] Accepted =
    [
        new object[] { "{}", "{}" },
        new object[] { """{ "name" : "Ada", "role": "editor" }""", """{"name":"Ada","role":"editor"}""" },
        new object[] { """{"nested":{"deeper":[1, 2, {"x": null}]}}""", """{"nested":{"deeper":[1,2,{"x":null}]}}""" },
        new object[] { """{"name":"Zoë 🚀"}""", """{"name":"Zoë 🚀"}""" },
        new object[] { """{"quote":"a \"b\" c"}""", """{"quote":"a \"b\" c"}""" },
        new object[] { "{\"pad\":\"" + new string('x', 1024 - 10) + "\"}", "{\"pad\":\"" + new string('x', 1024 - 10) + "\"}" },
        new object[] { "{ \"spaced\" :\n\t\"" + new string('y', 1000) + "\" }", "{\"spaced\":\"" + new string('y', 1000) + "\"}" },
    ];

    private static readonly object[] Refused =
    [
        new object[] { "", "empty" },
        new object[] { "[]", "an array" },
        new object[] { "\"text\"", "a string" },
        new object[] { "42", "a number" },
        new object[] { "null", "null" },
        new object[] { "{", "truncated" },
        new object[] { """{"a":1""", "truncated inside" },
        new object[] { """{"a":1}}""", "a trailing brace" },
        new object[] { """{"a":1} {"b":2}""", "two objects" },
        new object[] { """{a:1}""", "an unquoted name" },
        new object[] { "{\"pad\":\"" + new string('x', 1024 - 9) + "\"}", "1025 bytes" },
        new object[] { "{\"pad\":\"" + new string('x', 20_000) + "\"}", "far over" },
        new object[] { string.Concat(Enumerable.Repeat("{\"a\":", 64)) + "1" + new string('}', 64), "nested 64 deep" },
    ];

    [TestCaseSource(nameof(Accepted))]
    public void An_info_object_is_taken_compacted(string json, string expected)
    {
        Assert.That(ClientIdentity.TryParseInfo(Encoding.UTF8.GetBytes(json), out byte[]? compact, out string? error), Is.True, error);
        Assert.That(Encoding.UTF8.GetString(compact!), Is.EqualTo(expected));
    }

    [TestCaseSource(nameof(Refused))]
    public void Anything_but_a_small_object_is_refused_saying_what_is_accepted(string json, string what)
    {
        Assert.That(ClientIdentity.TryParseInfo(Encoding.UTF8.GetBytes(json), out byte[]? compact, out string? error), Is.False, what);
        Assert.That(compact, Is.Null);
        Assert.That(error, Is.EqualTo("must be a JSON object of at most 1024 bytes"));
    }

    [Test]
    public void Invalid_utf8_and_random_bytes_are_refused()
    {
        Assert.That(ClientIdentity.TryParseInfo([(byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)':', (byte)'1', (byte)'}'], out _, out _), Is.False);
        var random = new Random(12);
        for (int i = 0; i < 2000; i++)
        {
            byte[] bytes = new byte[random.Next(1, 64)];
            random.NextBytes(bytes);
            bytes[0] = (byte)'{';

            // Never throws; whatever it takes is a compact object within the limit.
            if (ClientIdentity.TryParseInfo(bytes, out byte[]? compact, out _))
            {
                Assert.That(compact!.Length, Is.LessThanOrEqualTo(ClientIdentity.MaxInfoBytes));
                Assert.That(compact[0], Is.EqualTo((byte)'{'));
            }
        }
    }

    [TestCase(null, null, null, null)]
    [TestCase("ada", null, "ada", null)]
    [TestCase("ada", """{"role":"editor"}""", "ada", """{"role":"editor"}""")]
    [TestCase(null, """{ "role" : "viewer" }""", null, """{"role":"viewer"}""")]
    public void The_query_says_who_a_client_is_when_auth_is_off(string? user, string? info, string? expectedUser, string? expectedInfo)
    {
        var query = new Dictionary<string, StringValues>();
        if (user is not null)
        {
            query["user"] = user;
        }

        if (info is not null)
        {
            query["info"] = info;
        }

        Assert.That(ClientIdentity.TryParseQuery(new QueryCollection(query), out ClientIdentity identity, out string? error), Is.True, error);
        Assert.That(identity.User, Is.EqualTo(expectedUser));
        Assert.That(identity.Info is null ? null : Encoding.UTF8.GetString(identity.Info), Is.EqualTo(expectedInfo));
    }

    [TestCase("user", "", "user must be given once, 1 to 256 characters without control characters")]
    [TestCase("user", "a\u0001b", "user must be given once, 1 to 256 characters without control characters")]
    [TestCase("info", "[1]", "info must be a JSON object of at most 1024 bytes (URL-encoded)")]
    [TestCase("info", "{\"a\":", "info must be a JSON object of at most 1024 bytes (URL-encoded)")]
    public void A_malformed_user_or_info_is_refused_saying_what_is_accepted(string key, string value, string expected)
    {
        var query = new QueryCollection(new Dictionary<string, StringValues> { [key] = value });
        Assert.That(ClientIdentity.TryParseQuery(query, out _, out string? error), Is.False);
        Assert.That(error, Is.EqualTo(expected));
    }

    [Test]
    public void A_user_or_info_given_twice_is_refused()
    {
        Assert.That(ClientIdentity.TryParseQuery(new QueryCollection(new Dictionary<string, StringValues> { ["user"] = new(["a", "b"]) }), out _, out string? error), Is.False);
        Assert.That(error, Does.StartWith("user must be given once"));
        Assert.That(ClientIdentity.TryParseQuery(new QueryCollection(new Dictionary<string, StringValues> { ["info"] = new(["{}", "{}"]) }), out _, out error), Is.False);
        Assert.That(error, Is.EqualTo("info must be given once"));
        Assert.That(ClientIdentity.TryParseQuery(new QueryCollection(new Dictionary<string, StringValues> { ["user"] = new string('u', 257) }), out _, out _), Is.False);
    }
}
