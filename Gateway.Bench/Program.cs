using Gateway.Bench;

return args switch
{
    ["history-memory", .. var rest] => HistoryMemory.Run(rest),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: Gateway.Bench <command>

          history-memory [--sessions N] [--events N] [--payload BYTES]
              memory held by full session histories in the memory backplane

        The load generator and the peer comparison are not written yet; see docs/benchmarks.md.
        """);
    return 2;
}
