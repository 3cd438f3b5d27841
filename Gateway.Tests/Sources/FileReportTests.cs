using System.Text.Json;
using Gateway.Sources;

namespace Gateway.Tests.Sources;

/// <summary>
/// <see cref="FileReport.Look"/> on a real folder: what it reports of a file against what was last
/// reported of it, and when it reports nothing.
/// </summary>
public sealed class FileReportTests
{
    private string _folder = null!;

    [SetUp]
    public void CreateFolder()
    {
        _folder = Path.Combine(Path.GetTempPath(), "gateway-report-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
    }

    [TearDown]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    // file on disk (null: none), reported before, then the change reported (null: no event) and what stays known.
    [TestCase(null, false, null, false, TestName = "Gone and never reported: nothing")]
    [TestCase(null, true, "deleted", false, TestName = "Gone after it was reported: deleted")]
    [TestCase("{\"a\": 1}", false, "created", true, TestName = "New: created")]
    [TestCase("{\"a\": 2}", true, "changed", true, TestName = "Reported before: changed")]
    public void Look_reports_a_file_against_what_was_reported_of_it(string? content, bool reported, string? change, bool knownAfter)
    {
        var known = new Dictionary<string, FileStamp>(StringComparer.Ordinal);
        if (reported)
        {
            known["f.json"] = new FileStamp(1, DateTime.UnixEpoch);
        }

        if (content is not null)
        {
            File.WriteAllText(Path.Combine(_folder, "f.json"), content);
        }

        ReadOnlyMemory<byte>? data = new FileReport(1024).Look(_folder, "f.json", known);

        Assert.That(known.ContainsKey("f.json"), Is.EqualTo(knownAfter));
        if (change is null)
        {
            Assert.That(data, Is.Null, "no event, not an event with no data");
            return;
        }

        Assert.That(data, Is.Not.Null);
        using JsonDocument document = JsonDocument.Parse(data!.Value);
        Assert.That(document.RootElement.GetProperty("path").GetString(), Is.EqualTo("f.json"));
        Assert.That(document.RootElement.GetProperty("change").GetString(), Is.EqualTo(change));
    }
}
