// The local end of a sketch's terminal. The sketch runs in a pseudo-terminal on the device, whose
// line discipline echoes and edits what is typed; so, like ssh, a local terminal is put in raw
// mode and every keystroke is sent as it comes (typed text shows once, backspace works there).
// Ctrl-C is kept here: it ends the following and leaves the program running. Input that is not
// a terminal (a pipe, a file) is sent as it is read.

const CTRL_C = 0x03;

export interface TerminalOptions {
  input: NodeJS.ReadStream;
  send(bytes: Buffer): void;
  /** Ctrl-C typed, or SIGINT / SIGTERM received. */
  onQuit(): void;
}

/** Starts forwarding; returns the function that stops it and gives the terminal back. */
export function attachTerminal(options: TerminalOptions): () => void {
  const { input } = options;
  const raw = input.isTTY === true;
  let attached = true;
  const quit = () => {
    if (attached) options.onQuit();
  };
  const onData = (chunk: Buffer) => {
    const stop = raw ? chunk.indexOf(CTRL_C) : -1;
    const bytes = stop >= 0 ? chunk.subarray(0, stop) : chunk;
    if (bytes.length > 0) options.send(bytes);
    if (stop >= 0) quit();
  };
  if (raw) input.setRawMode(true);
  input.on('data', onData);
  input.resume();
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
  return () => {
    if (!attached) return;
    attached = false;
    input.off('data', onData);
    if (raw) input.setRawMode(false);
    input.pause();
    process.off('SIGINT', quit);
    process.off('SIGTERM', quit);
  };
}
