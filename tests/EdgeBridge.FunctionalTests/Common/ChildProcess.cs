using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace EdgeBridge.FunctionalTests.Common;

/// <summary>
/// A real process a test starts, signals and kills the way an operator or a crash would (SIGTERM, SIGKILL, SIGSTOP),
/// and can start again with the same command line. Its output is kept (the last lines, for failure messages) and
/// its standard output can be read line by line.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private const int KeptLines = 200;

    private readonly ProcessStartInfo _start;
    private readonly ConcurrentQueue<string> _tail = new();
    private Process _process;
    private Channel<string> _lines = Channel.CreateUnbounded<string>();

    private ChildProcess(ProcessStartInfo start)
    {
        _start = start;
        _process = Launch();
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The lines written to standard output since the last start, in order.</summary>
    public ChannelReader<string> Lines => _lines.Reader;

    /// <summary>The last lines of both outputs, for a failure message.</summary>
    public string Tail => string.Join('\n', _tail);

    public static ChildProcess Start(string fileName, IEnumerable<string> arguments, string workingDirectory,
        IDictionary<string, string>? environment = null, bool standardInput = false)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = standardInput,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        return new ChildProcess(start);
    }

    /// <summary>Starts the same command again, e.g. after <see cref="KillAsync"/>.</summary>
    public void Restart()
    {
        if (!_process.HasExited)
        {
            throw new InvalidOperationException("The process is still running.");
        }

        _process.Dispose();
        _lines = Channel.CreateUnbounded<string>();
        _process = Launch();
    }

    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>SIGSTOP: the process hangs — connections stay open, nothing is answered — until <see cref="ResumeAsync"/>.</summary>
    public Task PauseAsync() => SignalAsync("STOP");

    /// <summary>SIGCONT after <see cref="PauseAsync"/>.</summary>
    public Task ResumeAsync() => SignalAsync("CONT");

    /// <summary>SIGTERM: what an orchestrator sends to stop a process gracefully.</summary>
    public Task TerminateAsync() => SignalAsync("TERM");

    /// <summary>SIGKILL: the process ends at once, its sockets reset by the kernel.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
    }

    public Task WaitForExitAsync(CancellationToken cancellationToken = default) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>Waits until <paramref name="ready"/> holds, failing at once (with the output) if the process exits first.</summary>
    public async Task WaitUntilAsync(Func<Task<bool>> ready, string what, TimeSpan? deadline = null)
    {
        try
        {
            await Wait.UntilAsync(async () =>
            {
                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"The process exited with {_process.ExitCode} before {what}:\n{Tail}");
                }

                return await ready();
            }, what, deadline ?? TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}\nThe process's last output:\n{Tail}", ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // A paused process takes SIGKILL too.
        await KillAsync();
        _process.Dispose();
    }

    private async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    private Process Launch()
    {
        var process = Process.Start(_start) ?? throw new InvalidOperationException($"Could not start {_start.FileName}.");
        var lines = _lines.Writer;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                lines.TryComplete();
                return;
            }

            Keep(e.Data);
            lines.TryWrite(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Keep(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private void Keep(string line)
    {
        _tail.Enqueue(line);
        while (_tail.Count > KeptLines)
        {
            _tail.TryDequeue(out _);
        }
    }

    /// <summary>A port the OS has just handed out and released; the process binds it a moment later.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
