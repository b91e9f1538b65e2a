// Publishes wait here, behind one 'drain' listener, while the socket's buffer is full. MQTT.js adds
// a 'drain' listener of its own for each packet written to a full socket, and each listener, when
// it fires, removes itself by scanning all the others: with thousands of answers waiting (a flood
// of requests, a broker slow to read) the agent spent seconds of its event loop in removeListener.

/** What the gate needs of the socket: whether it wants a 'drain' before more writes. */
export interface GatedStream {
  readonly writableNeedDrain: boolean;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

export class WriteGate {
  private readonly waiting: (() => void)[] = [];
  private watched: GatedStream | undefined;

  /** Runs `write` now if `stream` takes writes, else once it has drained (in order). */
  pass(stream: GatedStream | undefined, write: () => void): void {
    if (this.waiting.length === 0 && !stream?.writableNeedDrain) {
      write();
      return;
    }
    this.waiting.push(write);
    if (stream && this.watched !== stream) this.watch(stream);
  }

  /** How many writes are waiting. */
  get size(): number {
    return this.waiting.length;
  }

  /** Runs every waiting write now (the connection closed: each decides what a lost link means). */
  flush(): void {
    this.unwatch();
    const writes = this.waiting.splice(0);
    for (const write of writes) write();
  }

  private watch(stream: GatedStream): void {
    this.unwatch();
    this.watched = stream;
    stream.once('drain', this.release);
    stream.once('close', this.onClose);
  }

  private unwatch(): void {
    this.watched?.off('drain', this.release);
    this.watched?.off('close', this.onClose);
    this.watched = undefined;
  }

  private readonly onClose = (): void => this.flush();

  private readonly release = (): void => {
    const stream = this.watched;
    this.unwatch();
    // Each write may fill the buffer again: hand over only as much as the socket takes.
    while (this.waiting.length > 0 && !stream?.writableNeedDrain) this.waiting.shift()!();
    if (this.waiting.length > 0 && stream) this.watch(stream);
  };
}
