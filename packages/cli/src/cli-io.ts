/** Where a command writes; swappable so commands can be run in-process in tests. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream;
  /** stdin's file descriptor when it is this process's own: commands that stream input may read it directly. */
  readonly stdinFd?: number;
  /** stdout's file descriptor when it is this process's own: a command may write a regular file there directly (convert). */
  readonly stdoutFd?: number;
  readonly env: Record<string, string | undefined>;
  /** Imports a module by URL (plugins); the command line's own `import()`, usable from code loaded as a vm script. */
  readonly importModule?: (url: string) => Promise<unknown>;
}

/** Bad command-line input: reported as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Exit codes of the `clocksource` command. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;
