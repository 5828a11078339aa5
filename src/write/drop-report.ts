/** Drops come in bursts (a full queue or spool): one report per interval says how many. */
export class DropReport {
  private unreported = 0;
  private last = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** Makes the report of `dropped` documents since the last one. */
    private readonly send: (dropped: number) => void,
    private readonly everyMs = 1000,
  ) {}

  count(n: number): void {
    this.unreported += n;
    const wait = this.last + this.everyMs - Date.now();
    if (wait <= 0) this.flush();
    else
      this.timer ??= setTimeout(() => {
        this.flush();
      }, wait).unref();
  }

  /** Reports what is not reported yet, now (at close). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.unreported === 0) return;
    this.last = Date.now();
    const dropped = this.unreported;
    this.unreported = 0;
    this.send(dropped);
  }
}
