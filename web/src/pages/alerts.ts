// Alerts: what the detection rules found as events were committed (the store auditlake-alerts,
// GET /api/alerts), the alert targets and their health (GET /api/alert-targets, when the server
// has it), and a hunt: rules over a time range of a store (POST /api/hunt), as auditlake hunt.
import { api, ApiError, type Alert, type AlertTarget, type HuntResult } from "../api";
import { errorBox, h, num, shortArn, utc } from "../dom";
import { go, type IsCurrent } from "../nav";
import { sources } from "../sources";

function severity(s: string): HTMLElement {
  return h("span", { class: "badge sev-" + (s || "none").toLowerCase() }, s || "—");
}

function status(s: string): HTMLElement {
  return h("span", { class: "badge status-" + (s || "none").toLowerCase() }, s || "—");
}

function th(cols: string[], numeric: string[] = []): HTMLElement {
  return h("thead", {}, h("tr", {}, cols.map((c) => h("th", { class: numeric.includes(c) ? "num" : "" }, c))));
}

function alertsTable(alerts: Alert[]): HTMLElement {
  if (alerts.length === 0) {
    return h("p", { class: "empty" }, "No alerts match. Rules are evaluated as events are committed: add them with auditlake rule add.");
  }
  return h("div", { class: "table-wrap" }, h("table", { id: "alerts" },
    th(["Time", "Rule", "Severity", "Principal", "Account", "Region", "Summary", "Count", "Status"], ["Count"]),
    h("tbody", {}, alerts.map((a) => h("tr", { "data-alert": a.id, "data-rule": a.rule, "data-status": a.status },
      h("td", { title: a.alerted_at ? "alerted " + utc(a.alerted_at) : "" }, utc(a.event_time)),
      h("td", { title: a.title }, a.rule), h("td", {}, severity(a.severity)),
      h("td", { class: "mono", title: a.principal }, shortArn(a.principal)), h("td", { class: "mono" }, a.account || "—"),
      h("td", {}, a.region || "—"), h("td", { class: "summary", title: "store " + a.store + "; events " + a.event_ids.join(", ") }, a.summary),
      h("td", { class: "num" }, num(a.count)), h("td", {}, status(a.status)))))));
}

function targetsTable(targets: AlertTarget[]): HTMLElement {
  if (targets.length === 0) {
    return h("p", { class: "empty" }, "No alert targets. Add one with: auditlake alert-target add NAME --webhook URL --secret S");
  }
  return h("div", { class: "table-wrap" }, h("table", { id: "alert-targets" },
    th(["Target", "Kind", "Destination", "Health", "Last success", "Last error", "Failures in a row", "Queued"], ["Failures in a row", "Queued"]),
    h("tbody", {}, targets.map((t) => {
      const failing = (t.consecutive_failures ?? 0) > 0;
      return h("tr", { "data-target": t.name, "data-health": failing ? "failing" : "ok" },
        h("td", {}, t.name), h("td", {}, t.kind || "—"), h("td", { class: "mono" }, t.destination || "—"),
        h("td", {}, h("span", { class: "badge " + (failing ? "state-error" : "state-ok") }, failing ? "failing" : "ok")),
        h("td", {}, utc(t.last_success)),
        h("td", { class: "error-text", title: t.last_error_at ? utc(t.last_error_at) : "" }, t.last_error || "—"),
        h("td", { class: "num" }, num(t.consecutive_failures ?? 0)), h("td", { class: "num" }, num(t.queued ?? 0)));
    }))));
}

function huntTable(r: HuntResult): HTMLElement {
  const note = h("p", { class: "hint", id: "hunt-summary" },
    `${num(r.matches.length)} matches of ${num(r.rules.length)} rules over ${r.store} (${r.files_read} of ${r.files_total} files read) in ${num(r.elapsed_ms)} ms` +
    (r.truncated ? ` — stopped at ${num(r.max_matches ?? r.matches.length)} matches: narrow the rules or the time range, or run auditlake hunt` : ""));
  const failed = r.failed.length === 0 ? null : h("div", { class: "error", role: "alert" },
    h("p", {}, `${r.failed.length} rules failed; the others ran:`), h("ul", {}, r.failed.map((f) => h("li", {}, f.error))));
  const table = r.matches.length === 0 ? h("p", { class: "empty" }, "No match.") :
    h("div", { class: "table-wrap" }, h("table", { id: "hunt-results" },
      th(["Rule", "Severity", "Time", "Event", "Principal", "Account", "Region", "Source IP", "Summary"]),
      h("tbody", {}, r.matches.map((m) => h("tr", { "data-rule": m.rule, "data-event": m.event_id },
        h("td", { title: m.title }, m.rule), h("td", {}, severity(m.severity)), h("td", {}, utc(m.event_time)),
        h("td", { class: "mono", title: m.event_id }, m.event_name || "—"), h("td", { class: "mono", title: m.principal }, shortArn(m.principal)),
        h("td", { class: "mono" }, m.account || "—"), h("td", {}, m.region || "—"), h("td", { class: "mono" }, m.source_ip || "—"),
        h("td", { class: "summary" }, m.summary))))));
  return h("div", {}, note, failed, table);
}

export async function renderAlerts(root: HTMLElement, params: URLSearchParams, isCurrent: IsCurrent): Promise<void> {
  root.append(h("h1", {}, "Alerts"),
    h("p", { class: "sub" }, "What the enabled rules found in each commit of new events (the store auditlake-alerts), newest first."));
  const rule = h("input", { type: "text", name: "rule", placeholder: "any rule", value: params.get("rule") || "" }) as HTMLInputElement;
  const statusSel = h("select", { name: "status" }, ["", "open", "acknowledged", "closed"].map((s) =>
    h("option", { value: s, selected: s === (params.get("status") || "") }, s || "any status"))) as HTMLSelectElement;
  const since = h("input", { type: "text", name: "since", placeholder: "7d, 12h or 2026-01-02", value: params.get("since") || "" }) as HTMLInputElement;
  root.append(h("form", { class: "filters panel", id: "alert-filters", onsubmit: ((e: Event) => {
    e.preventDefault();
    go("alerts", { rule: rule.value.trim(), status: statusSel.value, since: since.value.trim() });
  }) as EventListener },
    h("label", {}, "Rule", rule), h("label", {}, "Status", statusSel), h("label", {}, "Since", since),
    h("button", { type: "submit" }, "Apply")));
  const list = h("section", { class: "panel", id: "alerts-panel" }, h("div", { class: "loading" }, "Loading…"));
  const targets = h("section", { class: "panel", id: "alert-targets-panel", hidden: true });
  const hunt = h("section", { class: "panel", id: "hunt-panel" });
  root.append(list, targets, hunt);

  const [alerts, tg, srcs] = await Promise.allSettled([
    api.alerts({ rule: params.get("rule") || undefined, status: params.get("status") || undefined, since: params.get("since") || undefined }),
    api.alertTargets(),
    sources(),
  ]);
  if (!isCurrent()) return;
  if (alerts.status === "fulfilled") {
    const a = alerts.value.alerts;
    list.replaceChildren(h("h2", {}, `Alerts (${num(a.length)}${a.length >= alerts.value.limit ? ", the newest " + num(alerts.value.limit) : ""})`), alertsTable(a));
  } else if (alerts.reason instanceof ApiError && alerts.reason.status === 403) {
    list.replaceChildren(h("h2", {}, "Alerts"), h("p", { class: "empty", id: "alerts-forbidden" }, alerts.reason.message));
  } else {
    list.replaceChildren(h("h2", {}, "Alerts"), errorBox(alerts.reason));
  }
  // The targets' health shows when the server answers GET /api/alert-targets.
  if (tg.status === "fulfilled") {
    targets.hidden = false;
    targets.replaceChildren(h("h2", {}, "Alert targets"), targetsTable(tg.value));
  }
  renderHunt(hunt, srcs.status === "fulfilled" ? srcs.value.stores.filter((s) => s.type === "cloudtrail") : [], isCurrent);
}

function renderHunt(panel: HTMLElement, stores: { id: string; name: string }[], isCurrent: IsCurrent): void {
  panel.append(h("h2", {}, "Hunt"),
    h("p", { class: "sub" }, "Run rules over any time range of a store, one query per rule, as auditlake hunt does."));
  if (stores.length === 0) {
    panel.append(h("p", { class: "empty" }, "No CloudTrail event data store to hunt in."));
    return;
  }
  const storeSel = h("select", { name: "store" }, stores.map((s) => h("option", { value: s.id }, s.name || s.id))) as HTMLSelectElement;
  const rules = h("input", { type: "text", name: "rules", value: "all", title: "all (every enabled rule), or rule ids separated by commas" }) as HTMLInputElement;
  const from = h("input", { type: "date", name: "from" }) as HTMLInputElement;
  const to = h("input", { type: "date", name: "to" }) as HTMLInputElement;
  const run = h("button", { type: "submit" }, "Run hunt") as HTMLButtonElement;
  const out = h("div", { id: "hunt-output" });
  let ctl: AbortController | null = null;
  panel.append(h("form", { class: "filters", id: "hunt-form", onsubmit: (async (e: Event) => {
    e.preventDefault();
    ctl?.abort();
    const mine = (ctl = new AbortController());
    run.disabled = true;
    out.replaceChildren(h("div", { class: "loading" }, "Hunting…"));
    try {
      const r = await api.hunt({ store: storeSel.value, rules: rules.value, from: from.value || undefined, to: to.value || undefined }, mine.signal);
      if (isCurrent() && ctl === mine) out.replaceChildren(huntTable(r));
    } catch (err) {
      if (isCurrent() && ctl === mine && !(err instanceof DOMException && err.name === "AbortError")) out.replaceChildren(errorBox(err));
    } finally {
      if (ctl === mine) run.disabled = false;
    }
  }) as EventListener },
    h("label", {}, "Event data store", storeSel), h("label", {}, "Rules", rules),
    h("label", {}, "From (UTC)", from), h("label", {}, "To (UTC, inclusive)", to), run), out);
}
