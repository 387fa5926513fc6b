// Lines to stdout or stderr with back-pressure: `sltrain attach | slow-reader` must not queue the
// whole events file in memory. `ready()` says when the stream has room again, and an output that
// goes away (EPIPE when the reader exits) aborts the follow instead of crashing the CLI.

export class LineSink {
  private waiting: Promise<void> | undefined;
  private readonly onError = (): void => this.abort.abort();

  constructor(private readonly stream: NodeJS.WritableStream, private readonly abort: AbortController) {
    stream.on('error', this.onError);
  }

  line(text: string): void {
    if (this.abort.signal.aborted) return;
    if (!this.stream.write(`${text}\n`) && !this.waiting) this.waiting = this.drained();
  }

  /** Undefined when the stream can take more now; else resolves once it can (or the follow ends). */
  ready(): Promise<void> | undefined {
    return this.waiting;
  }

  dispose(): void {
    this.stream.removeListener('error', this.onError);
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.stream.removeListener('drain', done);
        this.stream.removeListener('close', done);
        this.abort.signal.removeEventListener('abort', done);
        this.waiting = undefined;
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('close', done);
      this.abort.signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** What to wait for before reading more, given every sink written to. */
export function whenReady(sinks: readonly LineSink[]): Promise<void> | undefined {
  const waits = sinks.map((s) => s.ready()).filter((p): p is Promise<void> => p !== undefined);
  return waits.length === 0 ? undefined : Promise.all(waits).then(() => undefined);
}
