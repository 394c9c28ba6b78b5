// The public REST API with the unit's device token. The token is kept in this phone's
// storage (paired from the link /crew/#token=…) and sent as `Authorization: Token …`;
// no cookie is ever sent (credentials: "omit"), so a supervisor's session in the same
// browser cannot stand in for the unit.

const KEY = "crew.token";

export const token = {
  get: () => localStorage.getItem(KEY),
  set: (value) => localStorage.setItem(KEY, value),
  forget: () => localStorage.removeItem(KEY),
};

/* Take a token from the pairing link's fragment, then drop the fragment from the address
   bar and the history, so it is not bookmarked or shown. */
export function pairFromLink() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const value = params.get("token");
  if (value) {
    token.set(value.trim());
    history.replaceState(null, "", location.pathname + location.search);
    return true;
  }
  return false;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.describe(status, body));
    this.status = status;
    this.body = body;
  }

  static describe(status, body) {
    if (body && typeof body === "object") {
      if (body.detail) return String(body.detail);
      return Object.entries(body).map(([field, value]) => `${field}: ${[].concat(value).join(" ")}`).join("; ");
    }
    return `HTTP ${status}`;
  }

  // The request reached the server and it said no for good: sending it again is useless.
  get final() { return this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429; }
  get signedOut() { return this.status === 401 || this.status === 403; }
}

/* A network failure (offline, server unreachable): fetch's TypeError, or our timeout. */
export class Offline extends Error {}

export async function request(method, path, body, { timeoutMs = 15000 } = {}) {
  const key = token.get();
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = `Token ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(path.startsWith("/") ? path : `/api/v1/${path}`, {
      method, headers, credentials: "omit", cache: "no-store", signal: controller.signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new Offline(error.message);
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  const text = await response.text().catch(() => "");
  if (text) {
    try { data = JSON.parse(text); } catch { data = { detail: text.slice(0, 200) }; }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path) => request("GET", path);
export const post = (path, body = {}) => request("POST", path, body);
