/** Runs async work one piece at a time, in the order it was asked for; a failure is the failing
 * caller's, never the next one's. Used wherever two requests must not interleave (a file's
 * read-modify-write, apt-get's lock). */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private count = 0;

  /** Work waiting or running now. */
  get pending(): number {
    return this.count;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    this.count++;
    const turn = this.tail.then(work, work);
    this.tail = turn.catch(() => {}).finally(() => this.count--);
    return turn;
  }
}
