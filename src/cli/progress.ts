// A one-line progress display on a terminal; plain lines otherwise (CI logs).

export class Progress {
  private readonly tty: boolean;
  private readonly start = performance.now();

  constructor(
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  step(done: number, label: string): void {
    const width = 24;
    const filled = Math.round((done / this.total) * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    const secs = ((performance.now() - this.start) / 1000).toFixed(0);
    const line = `${bar} ${done}/${this.total} ${secs}s ${label}`;
    if (this.tty) this.stream.write(`\r\x1b[2K${line}`);
    else this.stream.write(`${line}\n`);
  }

  done(): void {
    if (this.tty) this.stream.write('\r\x1b[2K');
  }
}
