// Sources: each collection source's state, last run, last file, events added, lag and last
// error (auditlake source list), and each store's newest event and how far behind now it is.
import { api, type SourceStatus } from "../api";
import { errorBox, h, num, utc } from "../dom";
import type { IsCurrent } from "../nav";

/** "3m 20s" from seconds; "—" for none. */
function ago(sec: number | null | undefined): string {
  if (sec === null || sec === undefined || Number.isNaN(sec)) return "—";
  const s = Math.max(0, Math.round(sec));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

function target(s: SourceStatus): string {
  return s.type === "cur" ? s.table || "—" : s.store || s.store_id || "—";
}

function reads(s: SourceStatus): string {
  return [s.sqs_queue_url, s.uri].filter(Boolean).join(" + ") || "—";
}

export async function renderSources(root: HTMLElement, isCurrent: IsCurrent): Promise<void> {
  root.append(h("h1", {}, "Sources"),
    h("p", { class: "sub" }, "What auditlake collect (or serve) keeps collected: declare sources with auditlake source add."));
  const body = h("div", {}, h("div", { class: "loading" }, "Loading…"));
  root.append(body);
  let ov;
  try {
    ov = await api.sources();
  } catch (e) {
    if (isCurrent()) body.replaceChildren(errorBox(e));
    return;
  }
  if (!isCurrent()) return;
  const srcTable = ov.sources.length === 0
    ? h("p", { class: "empty" }, "No sources yet. Add one with: auditlake source add NAME --eds STORE s3://bucket/AWSLogs/ --every 1m")
    : h("div", { class: "table-wrap" }, h("table", { id: "sources" },
      h("thead", {}, h("tr", {}, ["Source", "Type", "Reads", "Target", "State", "Last run", "Last file", "Events added", "Lag", "Last error"]
        .map((c, i) => h("th", { class: i === 7 || i === 8 ? "num" : "" }, c)))),
      h("tbody", {}, ov.sources.map((s) => h("tr", { "data-source": s.name, "data-state": s.status },
        h("td", {}, s.name), h("td", {}, s.type), h("td", { class: "mono" }, reads(s)), h("td", {}, target(s)),
        h("td", {}, h("span", { class: "badge state-" + s.status.replace(" ", "-") }, s.status)),
        h("td", {}, utc(s.last_run)), h("td", { class: "mono", title: s.last_file || "" }, (s.last_file || "—").split("/").pop() || "—"),
        h("td", { class: "num" }, num(s.events_added)), h("td", { class: "num" }, s.caught_up ? ago(s.lag_ns / 1e9) : "—"),
        h("td", { class: "error-text" }, s.last_error || "—"))))));
  const storeTable = h("div", { class: "table-wrap" }, h("table", { id: "store-freshness" },
    h("thead", {}, h("tr", {}, ["Store", "Type", "Events", "Files", "Newest event", "Lag"].map((c, i) => h("th", { class: i === 2 || i === 3 || i === 5 ? "num" : "" }, c)))),
    h("tbody", {}, ov.stores.map((st) => h("tr", { "data-store": st.name },
      h("td", {}, st.name), h("td", {}, st.type), h("td", { class: "num" }, num(st.rows)), h("td", { class: "num" }, num(st.files)),
      h("td", {}, st.error ? h("span", { class: "error-text" }, st.error) : utc(st.newest_event)),
      h("td", { class: "num" }, st.newest_event ? ago(st.lag_seconds) : "—"))))));
  body.replaceChildren(h("section", { class: "panel" }, srcTable),
    h("section", { class: "panel" }, h("h2", {}, "Stores: newest event and lag"), storeTable));
}
