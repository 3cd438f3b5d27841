using System.Net;
using System.Text;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// A publish's 202 (spec section 5): the JSON it always was, sent whole with its length rather than
/// as chunks, so that a publish costs one write and its publisher one read.
/// </summary>
[CancelAfter(30_000)]
public sealed class PublishAnswerTests
{
    private GatewayServer _server = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _server = await GatewayServer.StartAsync();

    [OneTimeTearDown]
    public async Task StopAsync() => await _server.DisposeAsync();

    [Test]
    public async Task A_single_publish_is_answered_with_its_length_and_the_same_json()
    {
        (HttpResponseMessage response, string body) = await PostAsync("/api/sessions/answer-one/events", """{"event":"a","data":1}""");
        using (response)
        {
            AssertWhole(response, body);
            Assert.That(body, Is.EqualTo("""{"seq":1,"duplicate":false}"""));
        }
    }

    [Test]
    public async Task A_batch_with_a_retried_id_is_answered_with_its_length_and_the_same_json()
    {
        (HttpResponseMessage response, string body) = await PostAsync("/api/sessions/answer-batch/events", """[{"event":"a","id":"x"},{"event":"b"},{"event":"a","id":"x"}]""");
        using (response)
        {
            AssertWhole(response, body);
            Assert.That(body, Is.EqualTo("""{"seqs":[1,2,1],"duplicates":[2]}"""));
        }
    }

    private static void AssertWhole(HttpResponseMessage response, string body)
    {
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(response.Content.Headers.ContentType?.ToString(), Is.EqualTo("application/json; charset=utf-8"));
        Assert.That(response.Headers.TransferEncodingChunked, Is.Not.True);
        Assert.That(response.Content.Headers.ContentLength, Is.EqualTo(Encoding.UTF8.GetByteCount(body)));
    }

    private async Task<(HttpResponseMessage Response, string Body)> PostAsync(string path, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

        // Headers as sent: a buffered content would compute a length of its own.
        HttpResponseMessage response = await _server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestClient.Deadline);
        string body = await response.Content.ReadAsStringAsync(TestClient.Deadline);
        return (response, body);
    }
}
