// GET /: the dashboard (being written).
import { Hono } from "hono";
export function dashboardRoutes(): Hono {
  return new Hono();
}
