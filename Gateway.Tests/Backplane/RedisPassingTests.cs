using Gateway.Log.Redis;

namespace Gateway.Tests.Backplane;

/// <summary>
/// Which of Redis's refusals the gateway answers 503 (retry: the cluster is moving a slot or
/// failing over) and which it treats as a fault of its own. The messages are those the server
/// sends and those the client library makes when it gives up following a redirection.
/// </summary>
public sealed class RedisPassingTests
{
    // The server's, during a reshard or a failover.
    [TestCase("MOVED 9835 127.0.0.1:35123", true)]
    [TestCase("ASK 9835 127.0.0.1:35123", true)]
    [TestCase("TRYAGAIN Multiple keys request during rehashing of slot", true)]
    [TestCase("CLUSTERDOWN The cluster is down", true)]
    [TestCase("CLUSTERDOWN Hash slot not served", true)]
    [TestCase("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", true)]
    [TestCase("LOADING Redis is loading the dataset in memory", true)]
    [TestCase("READONLY You can't write against a read only replica.", true)]
    [TestCase("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)", true)]

    // The library's, once it has followed its one redirection and is redirected again.
    [TestCase("Key has MOVED to Endpoint 127.0.0.1:35123 and hashslot 9835 but CommandFlags.NoRedirect was specified - redirect not followed for EVALSHA. ", true)]
    [TestCase("Key has MOVED but CommandFlags.NoRedirect was specified - redirect not followed. ", true)]
    [TestCase("The server redirected hashslot 9835 to '127.0.0.1:1', which does not identify a node that can be connected to; a topology refresh has been requested. Command: EVALSHA", true)]

    // Faults that a retry does not mend: a bug in a script, a wrong type, a refused command.
    [TestCase("ERR Error running script (call to f_0123): @user_script:12: attempt to compare nil with number", false)]
    [TestCase("WRONGTYPE Operation against a key holding the wrong kind of value", false)]
    [TestCase("NOSCRIPT No matching script. Please use EVAL.", false)]
    [TestCase("NOPERM this user has no permissions to run the 'evalsha' command", false)]
    [TestCase("OOM command not allowed when used memory > 'maxmemory'.", false)]
    [TestCase("ERR unknown command 'FOO'", false)]
    [TestCase("", false)]

    // The prefixes are the server's words, in its case, at the start.
    [TestCase("moved 9835 127.0.0.1:35123", false)]
    [TestCase("ERR the key has MOVED", false)]
    public void A_refusal_is_retried_only_while_the_cluster_is_passing_from_one_shape_to_another(string message, bool passing) =>
        Assert.That(RedisLink.IsPassing(message), Is.EqualTo(passing), message);
}
