// The README's curl walkthrough, run as a newcomer would paste it: the same
// shell commands, with real curl and jq, against a real server. Each command's
// output must match the `# =>` lines under it ("…" stands for anything).

import assert from "node:assert/strict";
import { freePort, root, startServer } from "./real_server.ts";

const START = "<!-- walkthrough: start -->";
const END = "<!-- walkthrough: end -->";
const STEP_MARK = "@@zxsim-walkthrough-step@@";

interface Step {
  /** The shell lines, as in the README. */
  readonly commands: string[];
  /** What they print, one pattern per line ("…" is a wildcard). */
  readonly expected: string[];
}

/** The walkthrough's shell block, cut into steps: commands and the output under them. */
export function walkthroughSteps(readme: string): Step[] {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  assert.ok(start >= 0 && end > start, "README.md marks its walkthrough");
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start, end));
  assert.ok(block, "the walkthrough is one ```sh block");
  const steps: { commands: string[]; expected: string[] }[] = [];
  let current: { commands: string[]; expected: string[] } | undefined;
  for (const line of block[1].split("\n")) {
    if (line.startsWith("# => ")) {
      assert.ok(current, `output before any command: ${line}`);
      current.expected.push(line.slice(5));
    } else if (line.trim() === "" || line.startsWith("#")) {
      current = undefined;
    } else {
      if (!current || current.expected.length > 0) {
        current = { commands: [], expected: [] };
        steps.push(current);
      }
      current.commands.push(line);
    }
  }
  return steps;
}

function pattern(expected: string): RegExp {
  const parts = expected.split("…").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${parts.join(".*")}$`);
}

async function have(tool: string): Promise<boolean> {
  try {
    return (await new Deno.Command(tool, { args: ["--version"], stdout: "null" }).output()).success;
  } catch {
    return false;
  }
}

Deno.test("README walkthrough: every command's output is what the README shows", async () => {
  for (const tool of ["bash", "curl", "jq"]) {
    assert.ok(await have(tool), `the walkthrough needs ${tool} (apt-get install ${tool})`);
  }
  const steps = walkthroughSteps(await Deno.readTextFile(`${root}/README.md`));
  assert.ok(steps.length >= 10, "a walkthrough worth the name");
  // One shell runs the block as pasted, with a marker after each step so the
  // output can be matched to the command that printed it.
  const script = steps.map((s) => `${s.commands.join("\n")}\necho ${STEP_MARK}`).join("\n");
  const server = await startServer(["--port", String(freePort())]);
  try {
    const out = await new Deno.Command("bash", {
      args: ["-c", `set -o pipefail\n${script}`],
      env: { ZXSIM: server.url },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.equal(stderr, "", "the walkthrough prints no errors");
    const outputs = new TextDecoder().decode(out.stdout).split(`${STEP_MARK}\n`);
    assert.equal(outputs.length, steps.length + 1, "every step ran");
    steps.forEach((step, i) => {
      const lines = outputs[i] === "" ? [] : outputs[i].replace(/\n$/, "").split("\n");
      const where = step.commands.join("\n");
      assert.equal(lines.length, step.expected.length, `${where}\nprinted:\n${outputs[i]}`);
      lines.forEach((line, j) => assert.match(line, pattern(step.expected[j]), where));
    });
  } finally {
    await server.stop();
  }
});

Deno.test("README walkthrough: the step parser finds commands and their outputs", () => {
  const readme = `${START}\n\`\`\`sh\nA=1\n# a comment\necho "$A"\n# => 1\n` +
    `curl -s x \\\n  -d y\n# => {"a":…}\n# => second\n\`\`\`\n${END}`;
  assert.deepEqual(walkthroughSteps(readme), [
    { commands: ["A=1"], expected: [] },
    { commands: ['echo "$A"'], expected: ["1"] },
    { commands: ["curl -s x \\", "  -d y"], expected: ['{"a":…}', "second"] },
  ]);
  assert.match('{"a":17}', pattern('{"a":…}'));
  assert.doesNotMatch('{"b":17}', pattern('{"a":…}'));
  assert.doesNotMatch("x(1)", pattern("x(2)"));
});
