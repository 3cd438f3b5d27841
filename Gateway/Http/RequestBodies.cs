using System.IO.Pipelines;

namespace Gateway.Http;

/// <summary>Reads a whole request body, refusing it as soon as it passes a size limit.</summary>
internal static class RequestBodies
{
    /// <summary>
    /// The body, or null when it is larger than <paramref name="max"/> bytes (declared or sent).
    /// The caller hands the result to <see cref="Release"/> once it has copied what it keeps.
    /// </summary>
    public static async ValueTask<ReadResult?> ReadAsync(HttpContext http, int max)
    {
        if (http.Request.ContentLength > max)
        {
            return null;
        }

        PipeReader body = http.Request.BodyReader;
        while (true)
        {
            ReadResult read = await body.ReadAsync(http.RequestAborted);
            if (read.Buffer.Length > max)
            {
                body.AdvanceTo(read.Buffer.Start);
                return null;
            }

            if (read.IsCompleted)
            {
                return read;
            }

            // Keep everything; look again when more has arrived.
            body.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }

    public static void Release(HttpContext http, ReadResult read) => http.Request.BodyReader.AdvanceTo(read.Buffer.End);
}
