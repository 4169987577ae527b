import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { documentJson } from '../../functions/core/project.ts';
import {
  type Connection,
  connect,
  loadTarget,
  selectIndex,
  type Target,
  type TargetSource,
} from './operations/target.ts';

/** Exit codes: 0 all well; 1 the command could not run; 2 it ran and found a problem (drift, failures). */
export const EXIT = { ok: 0, error: 1, problem: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  /** Progress bars only on a terminal. */
  isTTY: boolean;
  /** Standard input's whole text, for a file given as `-`; absent where there is none. */
  readStdin?(): Promise<string>;
}

async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  isTTY: process.stderr.isTTY === true,
  readStdin: readProcessStdin,
};

/** The options every command takes (given before the command's name). */
export interface GlobalOptions {
  target?: string;
  stack?: string;
  region?: string;
  profile?: string;
  /** With several indexes of the table: the one to operate on (default the first). */
  index?: string;
  json: boolean;
}

/** A progress bar on stderr when it is a terminal and the output is text; otherwise nothing. */
export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

/** What a command module gets from the program: output, the exit code, the connection to the target. */
export interface CommandContext {
  io: CliIo;
  /** Sets the exit code the run ends with (a command that found a problem, or could not act). */
  exitWith(code: ExitCode): void;
  /** Prints `value` as JSON with `--json`, else the text `render` makes of it. */
  print(json: boolean, value: unknown, render: () => string): void;
  /** Loads the target and runs `work` with it, connecting to nothing (commands that need no AWS call). */
  withTarget<T>(command: Command, work: (target: Target, json: boolean) => Promise<T>): Promise<T>;
  /** Loads the target, connects to it, runs `work`, then closes the connection. */
  withConnection<T>(
    command: Command,
    work: (connection: Connection, json: boolean) => Promise<T>,
  ): Promise<T>;
  progress(json: boolean, label: string): Progress;
}

export function sourceOf(options: GlobalOptions): TargetSource {
  return {
    ...(options.target === undefined ? {} : { targetFile: options.target }),
    ...(options.stack === undefined ? {} : { stack: options.stack }),
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.profile === undefined ? {} : { profile: options.profile }),
  };
}

/** The context of one run; `exitCode()` reads what the commands set. */
export function commandContext(io: CliIo): CommandContext & { exitCode(): ExitCode } {
  let exitCode: ExitCode = EXIT.ok;
  return {
    io,
    exitWith(code) {
      exitCode = code;
    },
    exitCode: () => exitCode,
    print(json, value, render) {
      io.out(json ? `${documentJson(value, 2)}\n` : `${render()}\n`);
    },
    async withTarget(command, work) {
      const options = command.optsWithGlobals<GlobalOptions>();
      return work(selectIndex(await loadTarget(sourceOf(options)), options.index), options.json);
    },
    async withConnection(command, work) {
      const options = command.optsWithGlobals<GlobalOptions>();
      const target = selectIndex(await loadTarget(sourceOf(options)), options.index);
      const connection = connect(target, options.profile === undefined ? {} : { profile: options.profile });
      try {
        return await work(connection, options.json);
      } finally {
        connection.close();
      }
    },
    progress: (json, label) => progressBar(io, json, label),
  };
}

function progressBar(io: CliIo, json: boolean, label: string): Progress {
  if (json || !io.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar({
    format: `${label} [{bar}] {value}/{total}`,
    stream: process.stderr,
    hideCursor: true,
  });
  let started = false;
  return {
    update(done, total) {
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(done);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
