// GET /docs in a real browser: Swagger UI loads from zxsim alone, lists every
// operation, shows the worked examples, and "Try it out" makes a real call.

import assert from "node:assert/strict";
import { browserTest, screenshot } from "./browser.ts";
import { freePort, startServer } from "./real_server.ts";
import { send, TestKernel } from "./helpers.ts";

browserTest("docs: Swagger UI renders every operation and runs a real call", async (page) => {
  const server = await startServer(["--port", String(freePort())]);
  try {
    const outside: string[] = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(server.url)) outside.push(request.url());
    });
    const doc = (await send(server.fetcher, "/openapi.json", undefined, undefined, "GET")).body;
    const operations = Object.values(doc.paths).flatMap((methods) =>
      Object.keys(methods as object)
    );

    await page.goto(`${server.url}/docs`);
    await page.locator(".opblock").nth(operations.length - 1).waitFor();
    assert.equal(await page.locator(".opblock").count(), operations.length);
    assert.match(await page.locator(".info").innerText(), /Statuses and HTTP codes/);
    // Authorize and the first operations come first, in the first screenful: the
    // conventions and the status table are folded until asked for.
    const authorizeTop = (await page.locator(".auth-wrapper .authorize").boundingBox())!.y;
    assert.ok(authorizeTop < 500, `Authorize at y = ${authorizeTop}`);
    assert.ok((await page.locator(".opblock").first().boundingBox())!.y < 600);
    const statuses = page.locator(".info details", { hasText: "Statuses and HTTP codes" });
    assert.equal(await statuses.locator("table").isVisible(), false);
    await statuses.locator("summary").click();
    await statuses.locator("td", { hasText: "ZX_ERR_BAD_STATE" }).waitFor();
    assert.match(await statuses.innerText(), /405/);

    // An operation opens on its description and its worked examples.
    const write = page.locator(".opblock", { hasText: "/v1/zx/thread_write_state" });
    await write.locator(".opblock-summary-control").click();
    await write.locator("option", { hasText: "worked example: ZX_OK" }).first()
      .waitFor({ state: "attached" });
    await write.getByText(/rip is not a canonical user address/).first().waitFor();
    // Every documented error shows a reply, never the schema's placeholder.
    await write.getByText(/missing or unknown bearer token/).first().waitFor();
    assert.equal(await write.getByText("additionalProp1").count(), 0);

    // Authorize with a kernel's token, then "Try it out" on clock_get_monotonic.
    const k = await TestKernel.create(server.fetcher);
    await page.locator(".auth-wrapper .authorize").click();
    await page.locator(".modal-ux input[type=text]").fill(k.token);
    await page.locator(".modal-ux .auth-btn-wrapper .authorize").click();
    await page.locator(".modal-ux .btn-done").click();
    const clock = page.locator(".opblock", { hasText: "/v1/zx/clock_get_monotonic" });
    await clock.locator(".opblock-summary-control").click();
    await clock.locator(".try-out__btn").click();
    await clock.locator(".body-param__text").fill("{}");
    await clock.locator(".execute").click();
    const live = clock.locator(".live-responses-table tbody .response-col_status").first();
    await live.waitFor();
    assert.equal((await live.innerText()).trim(), "200");
    await clock.locator(".live-responses-table", { hasText: '"status": "ZX_OK"' }).waitFor();

    await screenshot(page, "docs");
    assert.deepEqual(outside, [], "the page loads nothing from other hosts");
  } finally {
    await server.stop();
  }
});
