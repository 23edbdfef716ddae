import { PassThrough } from "node:stream";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

async function capture(args) {
  const { main } = await import(join(root, "packages/cli/dist/main.js"));
  const out = new PassThrough();
  let text = "";
  out.on("data", (c) => (text += c));
  await main(args, { stdout: out, stderr: new PassThrough(), stdin: new PassThrough(), env: {} });
  return text;
}

/** The CLI reference, built from `clocksource --help` and each `clocksource help <command>`. */
export async function renderCliDocs() {
  const top = await capture(["--help"]);
  const commands = [...top.matchAll(/^  (\S+)\s{2,}/gm)].map((m) => m[1]).filter((c) => !c.startsWith("-"));
  let md = `# The command line: \`clocksource\`

Generated from the program's own help by \`node scripts/gen-cli-docs.mjs\`; a test fails when it is stale.

Conventions for every command:

- Errors are **one line** on stderr, \`clocksource: …\`, never a stack trace. Exit code **2** for
  errors the user can act on (unknown options, bad paths, malformed values, an unknown backend id,
  missing permission, a VM or endpoint that is not there, a wrong token), **1** for failures at run
  time (no usable backend, an agent that times out or breaks the protocol) and unexpected errors
  (\`CLOCKSOURCE_DEBUG=1\` adds a stack trace to those), **0** for success.
- u64 values are read in decimal or \`0x\` hexadecimal and written in decimal, exactly.
- Environment: \`CLOCKSOURCE_BACKEND\` (preferred backend ids, comma-separated),
  \`CLOCKSOURCE_EXCLUDE\`, \`CLOCKSOURCE_REQUIRE_EXACT=1\`, \`CLOCKSOURCE_AGENT\` (the paravirtual agent's endpoint).

\`\`\`
${top.trimEnd()}
\`\`\`
`;
  for (const c of commands) {
    md += `\n## \`clocksource ${c}\`\n\n\`\`\`\n${(await capture(["help", c])).trimEnd()}\n\`\`\`\n`;
  }
  return md;
}
