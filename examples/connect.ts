// Shared by the examples: the server to talk to (ZXSIM_URL, default the
// address `deno task start` serves on), and a clear word when it is not up.

import { ZxsimClient } from "../client/zxsim.ts";

/** Runs an example against the server; exits 1 with a hint if there is none. */
export async function runExample(example: (client: ZxsimClient) => Promise<void>) {
  const url = Deno.env.get("ZXSIM_URL") ?? "http://127.0.0.1:8000";
  try {
    await example(new ZxsimClient(url));
  } catch (error) {
    // fetch rejects with a TypeError when nothing listens there.
    if (!(error instanceof TypeError)) throw error;
    console.error(
      `no zxsim server at ${url} (${error.message}): start one with \`deno task start\`, ` +
        "or set ZXSIM_URL",
    );
    Deno.exit(1);
  }
}
