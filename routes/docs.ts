// GET /docs: the API reference (being written).
import { Hono } from "hono";
export function docsRoutes(): Hono {
  return new Hono();
}
