// The committed fixture binaries are what their sources build to: each
// tests/fixtures/<folder>/build.sh is run in a temporary copy of
// tests/fixtures, and every file it writes must equal the committed one (a
// file it writes that is not committed fails too).
//
// A build.sh names the programs it needs on a line "# requires: clang ld.lld"
// (default: clang ld.lld). Where one is missing the folder's test is skipped
// with a message, unless ZXSIM_REQUIRE_TOOLCHAIN=1, which makes that a
// failure (for CI, where the toolchain must be installed). A script that
// stops on a command it did not declare (exit 127) is reported and not
// checked, again unless ZXSIM_REQUIRE_TOOLCHAIN=1.

import assert from "node:assert/strict";

const FIXTURES = new URL("./fixtures/", import.meta.url);
const DEFAULT_TOOLS = ["clang", "ld.lld"];
const REQUIRE = Deno.env.get("ZXSIM_REQUIRE_TOOLCHAIN") === "1";

/** The folders with a build.sh, sorted. */
function fixtureFolders(): string[] {
  const folders: string[] = [];
  for (const entry of Deno.readDirSync(FIXTURES)) {
    if (!entry.isDirectory) continue;
    try {
      if (Deno.statSync(new URL(`${entry.name}/build.sh`, FIXTURES)).isFile) {
        folders.push(entry.name);
      }
    } catch {
      // No build.sh: nothing to rebuild.
    }
  }
  return folders.sort();
}

/** The tools a build.sh declares on its "# requires:" line. */
function requiredTools(script: string): string[] {
  const line = script.match(/^#\s*requires:(.*)$/m);
  return line ? line[1].trim().split(/\s+/).filter(Boolean) : DEFAULT_TOOLS;
}

function hasTool(name: string): boolean {
  try {
    const { success } = new Deno.Command("sh", {
      args: ["-c", `command -v "$1" >/dev/null`, "sh", name],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return success;
  } catch {
    return false;
  }
}

/** First lines of `tool --version`, for failure messages. */
function versionOf(tool: string): string {
  try {
    const { stdout } = new Deno.Command(tool, { args: ["--version"], stderr: "null" })
      .outputSync();
    return new TextDecoder().decode(stdout).split("\n").find((l) => l.trim()) ?? "?";
  } catch {
    return "not found";
  }
}

/** Copies `from` into `to` (a new folder), recursively; returns the files' relative paths. */
async function copyTree(from: string, to: string, base = ""): Promise<string[]> {
  await Deno.mkdir(to, { recursive: true });
  const files: string[] = [];
  for await (const entry of Deno.readDir(from)) {
    const [src, dst, rel] = [`${from}/${entry.name}`, `${to}/${entry.name}`, base + entry.name];
    if (entry.isDirectory) files.push(...await copyTree(src, dst, `${rel}/`));
    else if (entry.isFile) {
      await Deno.copyFile(src, dst);
      files.push(rel);
    }
  }
  return files;
}

async function listFiles(dir: string, base = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const rel = base + entry.name;
    if (entry.isDirectory) files.push(...await listFiles(`${dir}/${entry.name}`, `${rel}/`));
    else if (entry.isFile) files.push(rel);
  }
  return files;
}

const OLD = new Date("2000-01-01T00:00:00Z");

for (const folder of fixtureFolders()) {
  const scriptUrl = new URL(`${folder}/build.sh`, FIXTURES);
  const tools = requiredTools(Deno.readTextFileSync(scriptUrl));
  const absent = tools.filter((tool) => !hasTool(tool));
  const skip = absent.length > 0 && !REQUIRE;
  if (skip) {
    console.warn(
      `fixtures_rebuild: skipping ${folder}/: ${absent.join(", ")} not installed ` +
        `(set ZXSIM_REQUIRE_TOOLCHAIN=1 to make this a failure)`,
    );
  }

  Deno.test({
    name: `fixtures: ${folder}/build.sh rebuilds the committed bytes` +
      (skip ? ` [skipped: no ${absent.join(", ")}]` : ""),
    ignore: skip,
    fn: async () => {
      assert.deepEqual(absent, [], `ZXSIM_REQUIRE_TOOLCHAIN=1 but ${absent.join(", ")} missing`);
      const work = await Deno.makeTempDir({ prefix: "zxsim-fixtures-" });
      try {
        // The whole fixtures tree, so a build.sh may use files of its neighbours.
        const fixturesPath = decodeURIComponent(FIXTURES.pathname).replace(/\/$/, "");
        await copyTree(fixturesPath, work);
        const copy = `${work}/${folder}`;
        // Every file starts old: what the build writes is what is newer afterwards.
        for (const file of await listFiles(copy)) await Deno.utime(`${copy}/${file}`, OLD, OLD);

        const result = await new Deno.Command("sh", {
          args: ["build.sh"],
          cwd: copy,
          stdout: "piped",
          stderr: "piped",
        }).output();
        const decoder = new TextDecoder();
        if (result.code === 127 && !REQUIRE) {
          // "command not found" from a tool the script did not declare.
          console.warn(
            `fixtures_rebuild: not checking ${folder}/: a tool it needs is missing ` +
              `(add it to the script's "# requires:" line): ${decoder.decode(result.stderr)}`,
          );
          return;
        }
        assert.ok(
          result.success,
          `${folder}/build.sh failed (exit ${result.code}):\n${decoder.decode(result.stdout)}` +
            decoder.decode(result.stderr),
        );

        const written: string[] = [];
        const problems: string[] = [];
        for (const file of (await listFiles(copy)).sort()) {
          const mtime = (await Deno.stat(`${copy}/${file}`)).mtime;
          if (mtime && mtime.getTime() === OLD.getTime()) continue;
          written.push(file);
          let committed: Uint8Array;
          try {
            committed = await Deno.readFile(new URL(`${folder}/${file}`, FIXTURES));
          } catch {
            problems.push(`${file}: built but not committed`);
            continue;
          }
          const rebuilt = await Deno.readFile(`${copy}/${file}`);
          if (!equalBytes(committed, rebuilt)) {
            problems.push(
              `${file}: differs from the committed file ` +
                `(${committed.length} bytes committed, ${rebuilt.length} rebuilt)`,
            );
          }
        }
        assert.ok(written.length > 0, `${folder}/build.sh wrote no file`);
        assert.deepEqual(
          problems,
          [],
          `${problems.length} of ${written.length} built files differ. Rebuild with ` +
            `tests/fixtures/build_all.sh and commit the outputs, or check the toolchain: ` +
            tools.map((tool) => `${tool}: ${versionOf(tool)}`).join("; "),
        );
      } finally {
        await Deno.remove(work, { recursive: true });
      }
    },
  });
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
