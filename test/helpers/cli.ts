import { runCli } from '../../bin/cli/program.ts';

/** Runs the operator CLI in-process against a target file, as `npm run cli -- --target … <args>`. */
export async function cliAt(targetFile: string, ...args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(['--target', targetFile, ...args], {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    env: {},
    isTTY: false,
  });
  return { code, out, err, json: () => JSON.parse(out) };
}
