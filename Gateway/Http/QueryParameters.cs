using System.Globalization;
using Gateway.Protocol;
using Gateway.Sessions;
using Microsoft.Extensions.Primitives;

namespace Gateway.Http;

/// <summary>Parsing of the query parameters the endpoints share, with error texts that say what is accepted.</summary>
internal static class QueryParameters
{
    /// <summary>A seq: an integer of 0 or more. Absent gives null.</summary>
    public static bool TryParseSeq(StringValues values, string name, out long? seq, out string? error)
    {
        seq = null;
        error = null;
        if (StringValues.IsNullOrEmpty(values))
        {
            return true;
        }

        if (values.Count == 1 && long.TryParse(values[0], NumberStyles.None, CultureInfo.InvariantCulture, out long parsed))
        {
            seq = parsed;
            return true;
        }

        error = $"query parameter '{name}' must be a seq: an integer of 0 or more";
        return false;
    }

    /// <summary>The epoch a client resumes in (spec section 4): absent gives null; present, it must be one.</summary>
    public static bool TryParseEpoch(StringValues values, out string? epoch, out string? error)
    {
        epoch = null;
        error = null;
        if (values.Count == 0)
        {
            return true;
        }

        if (values.Count == 1 && Epochs.IsValid(values[0]))
        {
            epoch = values[0];
            return true;
        }

        error = $"query parameter 'epoch' must be the session's epoch: {Epochs.Rule} (in welcome, resumed and the session's status)";
        return false;
    }

    /// <summary>
    /// An SSE <c>Last-Event-ID</c>: <c>epoch:seq</c> as the stream sent it, or a bare seq (from
    /// before epochs, or written by hand: then the seq is trusted).
    /// </summary>
    public static bool TryParseEventId(string value, out ResumePoint point, out string? error)
    {
        point = default;
        error = null;
        int colon = value.IndexOf(':', StringComparison.Ordinal);
        string? epoch = colon < 0 ? null : value[..colon];
        if ((epoch is null || Epochs.IsValid(epoch))
            && long.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long seq))
        {
            point = new ResumePoint(seq, epoch);
            return true;
        }

        error = $"header 'Last-Event-ID' must be an event id as this stream sent it, <epoch>:<seq> (the epoch {Epochs.Rule}), or a bare seq: an integer of 0 or more";
        return false;
    }

    /// <summary>A flag: <c>true</c> or <c>false</c>; absent gives false.</summary>
    public static bool TryParseFlag(StringValues values, string name, out bool flag, out string? error)
    {
        flag = false;
        error = null;
        if (values.Count == 0)
        {
            return true;
        }

        if (values.Count == 1 && bool.TryParse(values[0], out flag))
        {
            return true;
        }

        error = $"query parameter '{name}' must be true or false";
        return false;
    }

    /// <summary>An integer between <paramref name="min"/> and <paramref name="max"/>; absent gives <paramref name="fallback"/>.</summary>
    public static bool TryParseInt(StringValues values, string name, int min, int max, int fallback, out int value, out string? error)
    {
        value = fallback;
        error = null;
        if (StringValues.IsNullOrEmpty(values))
        {
            return true;
        }

        if (values.Count == 1 && int.TryParse(values[0], NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max)
        {
            return true;
        }

        error = $"query parameter '{name}' must be an integer from {min} to {max}";
        return false;
    }
}
