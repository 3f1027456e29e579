// Kernel expiry (ZXSIM_KERNEL_TTL_MS): a kernel no request has used for the
// TTL is deleted as DELETE would delete it. Most tests move an injected clock;
// one uses real time with a wide margin.

import assert from "node:assert/strict";
import { assertStatus, inProcess, send, TestKernel } from "./helpers.ts";

function alive(k: TestKernel, token = k.token) {
  return send(k.fetcher, `/v1/kernels/${k.id}`, undefined, token, "GET");
}

Deno.test("expiry: an unused kernel goes after the TTL; a used one stays", async () => {
  let now = 0;
  const fetcher = inProcess({ kernelTtlMs: 1000, now: () => now });
  const used = await TestKernel.create(fetcher);
  const idle = await TestKernel.create(fetcher);
  for (now = 300; now <= 3000; now += 300) await used.ok("clock_get_monotonic");
  assert.equal((await alive(used)).http, 200);
  const gone = await alive(idle);
  assertStatus(gone, "ZX_ERR_ACCESS_DENIED", 401);
  assertStatus(await idle.call("clock_get_monotonic"), "ZX_ERR_ACCESS_DENIED", 401);
  assert.equal((await alive(used)).body.limits.kernels.used, 1);
});

Deno.test("expiry: an expired kernel's blocked call ends as when it is deleted", async () => {
  let now = 0;
  const fetcher = inProcess({ kernelTtlMs: 1000, now: () => now });
  const k = await TestKernel.create(fetcher);
  const { token } = await k.clientThread();
  const pending = k.call("object_wait_one", {
    handle: k.handles.root_job,
    signals: "ZX_JOB_TERMINATED",
  }, token);
  await new Promise((resolve) => setTimeout(resolve, 20));
  now = 800;
  const other = await TestKernel.create(fetcher);
  now = 1500; // k idle for 1.5 s, other for 0.7 s
  await other.ok("clock_get_monotonic"); // a request: the scan deletes the idle kernel
  assertStatus(await pending, "ZX_ERR_INTERNAL_INTR_KILLED", 409);
});

Deno.test("expiry: a full server makes room by deleting expired kernels (finding 7)", async () => {
  let now = 0;
  const fetcher = inProcess({ maxKernels: 3, kernelTtlMs: 60_000, now: () => now });
  const kernels = [];
  for (let i = 0; i < 3; i++) kernels.push(await TestKernel.create(fetcher));
  assertStatus(await send(fetcher, "/v1/kernels", {}), "ZX_ERR_NO_RESOURCES", 503);
  now = 30_000;
  await kernels[0].ok("clock_get_monotonic");
  assertStatus(await send(fetcher, "/v1/kernels", {}), "ZX_ERR_NO_RESOURCES", 503);
  now = 61_000; // kernels 1 and 2 idle for 61 s, kernel 0 for 31 s
  assert.equal((await send(fetcher, "/v1/kernels", {})).http, 201);
  assert.equal((await send(fetcher, "/v1/kernels", {})).http, 201);
  assertStatus(await send(fetcher, "/v1/kernels", {}), "ZX_ERR_NO_RESOURCES", 503);
  assert.equal((await alive(kernels[0])).http, 200);
  assertStatus(await alive(kernels[1]), "ZX_ERR_ACCESS_DENIED", 401);
});

Deno.test("expiry: a TTL of 0 never expires", async () => {
  let now = 0;
  const fetcher = inProcess({ kernelTtlMs: 0, now: () => now });
  const k = await TestKernel.create(fetcher);
  now = 1e12;
  assert.equal((await alive(k)).http, 200);
  assert.equal((await alive(k)).body.limits.kernel_ttl_ms, 0);
});

Deno.test("expiry: with real time, a short TTL deletes an idle kernel", async () => {
  const fetcher = inProcess({ kernelTtlMs: 100 });
  const k = await TestKernel.create(fetcher);
  // Twenty times the TTL: generous for a busy machine.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  assertStatus(await alive(k), "ZX_ERR_ACCESS_DENIED", 401);
});
