// GET /docs: an interactive API reference (Swagger UI) over /openapi.json.
// Swagger UI's files come from the swagger-ui-dist npm package and are served
// by zxsim itself, so the page works with no internet access.

import { Hono } from "hono";
import { ERR } from "../kernel/status.ts";
import { errorResponse } from "./http.ts";

/** The package files the page uses, and their content types. */
const ASSETS: Readonly<Record<string, string>> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>zxsim API reference</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      // "Try it out" sends real requests; the token from "Authorize" stays across reloads.
      persistAuthorization: true,
      displayRequestDuration: true,
      // The public validator badge would call out to the internet.
      validatorUrl: null,
    });
  </script>
</body>
</html>
`;

/**
 * The package's directory. Imported on the first asset request, not at
 * start-up: its entry point loads the whole Swagger UI bundle into the heap
 * (about 10 MB), which every other request would then pay for in GC time.
 */
let packageDir: Promise<string> | undefined;
const swaggerDir = () =>
  packageDir ??= import("swagger-ui-dist").then((module) => module.absolutePath());

export function docsRoutes(): Hono {
  const cache = new Map<string, Uint8Array<ArrayBuffer>>();
  const docs = new Hono();
  docs.get("/docs", (c) => c.html(PAGE));
  docs.get("/docs/assets/:file", async (c) => {
    const file = c.req.param("file");
    const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (!type) return errorResponse("zx", ERR.NOT_FOUND, `no docs asset ${file}`, 404);
    let bytes = cache.get(file);
    if (!bytes) {
      bytes = await Deno.readFile(`${await swaggerDir()}/${file}`);
      cache.set(file, bytes);
    }
    return new Response(bytes, {
      headers: { "content-type": type, "cache-control": "public, max-age=3600" },
    });
  });
  return docs;
}
