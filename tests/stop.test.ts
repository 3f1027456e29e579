// Stopping the server the ways people do: Ctrl-C, a SIGTERM to whatever
// they started (`npx -y deno@… task start`, `deno task start`), or killing
// that wrapper outright. Each time the port must close within a few seconds.

import assert from "node:assert/strict";
import { freePort, root } from "./real_server.ts";

/** The Deno version the README's quick start pins, as `npx -y deno@X task start` names it. */
const PINNED = /npx -y (deno@[\d.]+) task start/.exec(
  Deno.readTextFileSync(`${root}/README.md`),
)![1];

/** Whether something listens on `port`. */
async function listening(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/** Waits until the port closes; false if it is still open after `ms`. */
async function closesWithin(port: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!(await listening(port))) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !(await listening(port));
}

interface Started {
  readonly child: Deno.ChildProcess;
  readonly port: number;
  /** Everything the server printed on stdout so far. */
  output(): Promise<string>;
}

/** Runs `command args… --port N` in the project and waits until the server listens. */
async function start(command: string, args: string[], timeoutMs = 120_000): Promise<Started> {
  const port = freePort();
  const child = new Deno.Command(command, {
    args: [...args, "--port", String(port)],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const deadline = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    while (!seen.includes("listening on")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${command} ${args.join(" ")} ended before listening: ${seen}`);
      seen += value;
    }
  } finally {
    clearTimeout(deadline);
  }
  return {
    child,
    port,
    async output() {
      // The server is gone by now: read what is left, then the pipe ends.
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return seen;
        seen += value;
      }
    },
  };
}

/** Ends whatever is still running of a test's processes (a failed test leaves no server). */
async function cleanUp(started: Started): Promise<void> {
  try {
    started.child.kill("SIGKILL");
  } catch {
    // already gone
  }
  await started.child.status;
  await started.output().catch(() => "");
}

/** Whether `command args` runs and succeeds here. */
function runs(command: string, args: string[]): boolean {
  try {
    return new Deno.Command(command, { args, stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "stop: SIGTERM to the npx wrapper's pid ends the server",
  // The server finds its launchers with `ps` (procps); without it only the parent is watched.
  ignore: !runs("npx", ["--version"]) || !runs("ps", ["-p", "1"]),
  async fn() {
    const started = await start("npx", ["-y", PINNED, "task", "start"]);
    try {
      assert.ok(await listening(started.port));
      // The wrapper is `npm exec`: it passes SIGTERM to its `sh -c`, which dies without
      // passing it on; the server sees that its launchers are gone.
      started.child.kill("SIGTERM");
      assert.ok(await closesWithin(started.port, 5000), "the port is still open after 5 s");
      assert.match(await started.output(), /zxsim: stopping \(.*exited\)/);
    } finally {
      await cleanUp(started);
    }
  },
});

Deno.test("stop: SIGTERM to `deno task start` ends the server", async () => {
  const started = await start(Deno.execPath(), ["task", "start"]);
  try {
    started.child.kill("SIGTERM");
    assert.ok(await closesWithin(started.port, 5000));
    assert.match(await started.output(), /zxsim: stopping \(SIGTERM\)/);
  } finally {
    await cleanUp(started);
  }
});

Deno.test("stop: `deno task start` killed outright (SIGKILL): the server notices its parent is gone", async () => {
  const started = await start(Deno.execPath(), ["task", "start"]);
  try {
    started.child.kill("SIGKILL"); // nothing is forwarded: deno task just vanishes
    assert.ok(await closesWithin(started.port, 5000));
    assert.match(await started.output(), /zxsim: stopping \(its parent process \d+ exited\)/);
  } finally {
    await cleanUp(started);
  }
});

Deno.test("stop: Ctrl-C (SIGINT to the whole process group) ends the server", async () => {
  // A terminal sends Ctrl-C to every process of the foreground job: `setsid`
  // puts the task in a group of its own to play that job.
  const setsid = runs("setsid", ["--version"]);
  const started = setsid
    ? await start("setsid", [Deno.execPath(), "task", "start"])
    : await start(Deno.execPath(), ["task", "start"]);
  try {
    if (setsid) Deno.kill(-started.child.pid, "SIGINT");
    else started.child.kill("SIGINT");
    assert.ok(await closesWithin(started.port, 5000));
    assert.match(await started.output(), /zxsim: stopping \(SIGINT\)/);
    assert.equal((await started.child.status).code, 0);
  } finally {
    await cleanUp(started);
  }
});
