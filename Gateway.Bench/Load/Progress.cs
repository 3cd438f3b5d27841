namespace Gateway.Bench.Load;

/// <summary>
/// The live display: one status line rewritten in place on a terminal (the current phase and
/// what the generators see), and plain lines for results. Without a terminal, phases print as lines.
/// </summary>
internal sealed class Progress
{
    private readonly bool _live = !Console.IsOutputRedirected;
    private readonly Lock _gate = new();
    private string _status = string.Empty;

    public void Phase(string text)
    {
        lock (_gate)
        {
            _status = text;
            if (_live)
            {
                Console.Write("\r" + Fit(text));
            }
            else
            {
                Console.WriteLine(text);
            }
        }
    }

    public void Line(string text)
    {
        lock (_gate)
        {
            if (_live)
            {
                Console.Write("\r" + new string(' ', Width) + "\r");
            }

            Console.WriteLine(text);
            if (_live && _status.Length > 0)
            {
                Console.Write(Fit(_status));
            }
        }
    }

    /// <summary>Waits <paramref name="duration"/>, showing the seconds left.</summary>
    public async Task CountdownAsync(string text, TimeSpan duration)
    {
        var left = duration;
        while (left > TimeSpan.Zero)
        {
            Phase($"{text}: {left.TotalSeconds:0} s left");
            TimeSpan step = left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1);
            await Task.Delay(step);
            left -= step;
        }
    }

    private static int Width => Console.IsOutputRedirected ? 120 : Math.Max(40, Console.WindowWidth - 1);

    private static string Fit(string text) => text.Length >= Width ? text[..Width] : text.PadRight(Width);
}
