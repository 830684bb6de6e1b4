// Hash routes: #/page/arg?params.

export interface Route { page: string; arg: string; params: URLSearchParams }

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#\/?/, "");
  const i = raw.indexOf("?");
  const path = i < 0 ? raw : raw.slice(0, i);
  const query = i < 0 ? "" : raw.slice(i + 1);
  const [page = "", ...rest] = path.split("/");
  return { page: page || "compliance", arg: decodeURIComponent(rest.join("/")), params: new URLSearchParams(query) };
}

/** Builds a route link, dropping empty parameters. */
export function link(page: string, params: Record<string, string | undefined> = {}, arg = ""): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return "#/" + page + (arg ? "/" + encodeURIComponent(arg) : "") + (s ? "?" + s : "");
}

export function go(page: string, params: Record<string, string | undefined> = {}, arg = ""): void {
  location.hash = link(page, params, arg);
}

/** IsCurrent tells a page whether its render is still the one on screen. */
export type IsCurrent = () => boolean;
