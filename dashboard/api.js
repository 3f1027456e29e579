// Every request the dashboard makes goes through here, so that each failure
// reaches the page in one shape: HTTP status, Zircon status name, message.

export class ApiError extends Error {
  /**
   * @param {number} http the HTTP status (0 when the server did not answer)
   * @param {string} status "ZX_ERR_BAD_STATE", or a description when the reply is not zxsim's
   * @param {string} message
   */
  constructor(http, status, message) {
    super(message);
    this.http = http;
    this.status = status;
  }

  toString() {
    return `${this.http} ${this.status}: ${this.message}`;
  }
}

async function request(method, path, token, body) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, "NO_REPLY", `the server did not answer (${error.message})`);
  }
  const text = await response.text();
  let json;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError(response.status, "NOT_JSON", text.slice(0, 200));
  }
  // A syscall's verdict is its code; the HTTP status only mirrors it.
  if (!response.ok || (typeof json.code === "number" && json.code !== 0)) {
    throw new ApiError(
      response.status,
      json.status ?? `HTTP ${response.status}`,
      json.message ?? text,
    );
  }
  return json;
}

/** POST /v1/kernels: {kernel, arch, token, handles}. */
export function createKernel(arch) {
  return request("POST", "/v1/kernels", undefined, { arch });
}

/** GET /v1/kernels/{id}: the object tree and which thread the token calls as. */
export function kernelSummary(kernel) {
  return request("GET", `/v1/kernels/${encodeURIComponent(kernel.id)}`, kernel.token);
}

/** GET /v1/kernels/{id}/debuglog: zx_debug_write output and crash reports, from record `from`. */
export function debuglog(kernel, from = 0) {
  return request(
    "GET",
    `/v1/kernels/${encodeURIComponent(kernel.id)}/debuglog?from=${from}`,
    kernel.token,
  );
}

/** POST /v1/zx/{name} as the kernel's token; resolves to the reply's outs. */
export function syscall(kernel, name, body) {
  return request("POST", `/v1/zx/${name}`, kernel.token, body);
}
