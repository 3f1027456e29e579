// The `deno task example:*` scripts, run as a user runs them, against a real
// server: each must finish and print what the README says it shows.

import assert from "node:assert/strict";
import { freePort, root, startServer } from "./real_server.ts";

const tasks: Record<string, string> = JSON.parse(
  await Deno.readTextFile(`${root}/deno.json`),
).tasks;

async function runTask(name: string, env: Record<string, string>, extra: string[] = []) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", name, ...extra],
    cwd: root,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("examples: every script in examples/ has a deno task, and every task a script", async () => {
  const scripts = [...Deno.readDirSync(`${root}/examples`)]
    .map((entry) => entry.name)
    .filter((name) => name !== "connect.ts")
    .map((name) => `example:${name.replace(/\.ts$/, "")}`)
    .sort();
  const exampleTasks = Object.keys(tasks).filter((t) => t.startsWith("example:")).sort();
  assert.deepEqual(exampleTasks, scripts);
  for (const task of exampleTasks) {
    assert.match(tasks[task], new RegExp(`examples/${task.slice(8)}\\.ts$`));
  }
  const readme = await Deno.readTextFile(`${root}/README.md`);
  for (const task of exampleTasks) assert.ok(readme.includes(`deno task ${task}`), task);
});

Deno.test("examples: each runs against a real server and shows its story", async () => {
  const server = await startServer(["--port", String(freePort())]);
  const expected: Record<string, RegExp[]> = {
    "example:registers": [
      /^x64: GENERAL_REGS is 160 bytes; rip = 0x0000000001000000$/m,
      /^x64: rax 0x0000000000000000 -> 0x000000000000002a$/m,
      /^x64: rip 0x0000000001000000 -> 0x0000000001000040$/m,
      /^arm64: GENERAL_REGS is 280 bytes; pc = 0x0000000001000000$/m,
      /^arm64: r\[0\] 0x0000000000000007 -> 0x000000000000002a$/m,
      /^arm64: pc 0x0000000001000000 -> 0x0000000001000040$/m,
      // Resumed, each runs the spin loop at the new pc and stops there when suspended.
      /^x64: resumed, ZX_INFO_THREAD state 1 \(RUNNING\)$/m,
      /^x64: suspended again: rip = 0x0000000001000040$/m,
      /^arm64: suspended again: pc = 0x0000000001000040$/m,
    ],
    "example:errors": [
      /^read a closed handle: ZX_ERR_BAD_HANDLE: /m,
      /^read a process's registers: ZX_ERR_WRONG_TYPE: /m,
      /^read through a handle without ZX_RIGHT_READ: ZX_ERR_ACCESS_DENIED: /m,
      /^read a thread that is not suspended: ZX_ERR_BAD_STATE: /m,
      /^write a kernel address to rip: ZX_ERR_INVALID_ARGS: .*not a canonical user address/m,
      /^write a 3-byte buffer: ZX_ERR_BUFFER_TOO_SMALL: /m,
      /^claim 160 bytes but send 3: ZX_ERR_INVALID_ARGS: buffer is an invalid pointer/m,
      /^read it while suspended: ok$/m,
    ],
    "example:magenta": [
      /^x64: REGSET0 is 144 bytes$/m,
      /^x64: a short len: MX_ERR_INVALID_ARGS: /m,
      /^arm64: REGSET0 is 272 bytes$/m,
      /^arm64: a short len: MX_ERR_INVALID_ARGS: /m,
    ],
    "example:debugger": [
      /^x64: ZX_EXCP_THREAD_STARTING$/m,
      /^x64: stopped at ZX_EXCP_SW_BREAKPOINT: rip = 0x[0-9a-f]{16}, rbx = 0x0{15}5$/m,
      /^x64: {3}rax=0x[0-9a-f]{16} rbx=0x0{15}5 /m,
      /^x64: rbx 0x0{15}5 -> 0x0{14}2a$/m,
      /^x64: single step \(ZX_EXCP_HW_BREAKPOINT\): rip 0x[0-9a-f]{16} -> 0x[0-9a-f]{16} \(\+4, one instruction\), rbx = 0x0{14}2b$/m,
      /^x64: the program printed: result: 86$/m,
      /^x64: exit code 260$/m,
      /^arm64: stopped at ZX_EXCP_SW_BREAKPOINT: pc = 0x[0-9a-f]{16}, x19 = 0x0{15}5$/m,
      /^arm64: x19 0x0{15}5 -> 0x0{14}2a$/m,
      /^arm64: pc 0x[0-9a-f]{16} -> 0x[0-9a-f]{16} \(past the brk\)$/m,
      /^arm64: single step \(ZX_EXCP_HW_BREAKPOINT\): pc 0x[0-9a-f]{16} -> 0x[0-9a-f]{16} \(\+4, one instruction\), x19 = 0x0{14}2b$/m,
      /^arm64: the program printed: result: 86$/m,
      /^arm64: exit code 260$/m,
    ],
    "example:vmm": [
      /^x64: guest with 1 MiB of RAM at guest-physical 0, identity page tables at 0x0-0x2fff, hello\.bin \(\d+ bytes\) at 0x8000$/m,
      /^x64: traps: IO 0x3f8-0x3ff \(UART\), IO 0x604 \(power off\)$/m,
      /^x64: exit 1: guest_io \{"port":1021,"access_size":1,"input":1,"data":0\} -> answered: ready$/m,
      /^x64: exit 2: guest_io \{"port":1016,"access_size":1,"input":0,"data":72\} -> a byte: "H"$/m,
      /^x64: the guest wrote: Hello from the guest$/m,
      // Per byte a status read and a write, and the power-off write.
      /^x64: powered off \(a write to port 0x604\) after 43 exits$/m,
    ],
    // The same task with arguments: "<task> <args>".
    "example:vmm --arch arm64": [
      /^arm64: guest with 1 MiB of RAM at guest-physical 0, hello\.bin \(\d+ bytes\) at 0x80000$/m,
      /^arm64: traps: MEM 0x9000000-0x9000fff \(UART\)$/m,
      /^arm64: exit 1: guest_mem \{"addr":"0x0000000009000018","access_size":4,"sign_extend":0,"xt":3,"read":1,"data":"0x0{16}"\} -> answered: ready$/m,
      /^arm64: exit 2: guest_mem \{"addr":"0x0000000009000000","access_size":1,"sign_extend":0,"xt":0,"read":0,"data":"0x0{14}48"\} -> a byte: "H"$/m,
      /^arm64: the guest wrote: Hello from the guest$/m,
      /^arm64: powered off \(PSCI SYSTEM_OFF\) after 42 exits$/m,
    ],
  };
  try {
    assert.deepEqual(
      [...new Set(Object.keys(expected).map((run) => run.split(" ")[0]))].sort(),
      Object.keys(tasks).filter((t) => t.startsWith("example:")).sort(),
      "every example is checked here",
    );
    for (const [run, lines] of Object.entries(expected)) {
      const [task, ...args] = run.split(" ");
      const { code, stdout, stderr } = await runTask(task, { ZXSIM_URL: server.url }, args);
      assert.equal(code, 0, `${run}: ${stderr}`);
      for (const line of lines) assert.match(stdout, line, `${run}:\n${stdout}`);
    }
  } finally {
    await server.stop();
  }
});

Deno.test("examples: with no server they say how to start one, without a stack trace", async () => {
  const url = `http://127.0.0.1:${freePort()}`;
  const { code, stdout, stderr } = await runTask("example:registers", { ZXSIM_URL: url });
  assert.equal(code, 1);
  assert.equal(stdout, "");
  assert.match(stderr, new RegExp(`no zxsim server at ${url}.*deno task start`));
  assert.doesNotMatch(stderr, /at .*\.ts:\d+/);
});

Deno.test("examples: the README's client snippet runs as printed", async () => {
  const readme = await Deno.readTextFile(`${root}/README.md`);
  const snippet = /```ts\n(import [^\n]*client\/zxsim\.ts";\n[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(snippet, "README.md shows the client in a ts block");
  const server = await startServer(["--port", String(freePort())]);
  const dir = await Deno.makeTempDir();
  try {
    // Only the import path and the server address differ from the README.
    const file = `${dir}/snippet.ts`;
    await Deno.writeTextFile(
      file,
      snippet
        .replace("./client/zxsim.ts", new URL("../client/zxsim.ts", import.meta.url).href)
        .replace("http://127.0.0.1:8000", server.url),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--config", `${root}/deno.json`, "--allow-net", file],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(stdout, /^-10 ZX_ERR_INVALID_ARGS: .*rip is not a canonical user address/);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
