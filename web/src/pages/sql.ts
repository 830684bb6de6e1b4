// SQL: an editor for CloudTrail Lake / Athena SQL with the tables beside it, results as a table
// and, when the shape allows, a chart; CSV and JSON downloads. Loaded on demand, so CodeMirror
// is not in the main bundle.
import { EditorView, keymap, lineNumbers, highlightActiveLine, placeholder } from "@codemirror/view";
import { EditorState, Prec } from "@codemirror/state";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { syntaxHighlighting, defaultHighlightStyle, bracketMatching } from "@codemirror/language";
import { autocompletion, closeBrackets, completionKeymap } from "@codemirror/autocomplete";
import { sql, StandardSQL } from "@codemirror/lang-sql";
import { api, ApiError, type Column, type QueryResult, type Table } from "../api";
import { colors, draw } from "../charts";
import { h, num } from "../dom";
import type { IsCurrent } from "../nav";
import { sources } from "../sources";

const lastKey = "auditlake.sql.last";

export async function renderSQL(root: HTMLElement, params: URLSearchParams, isCurrent: IsCurrent): Promise<void> {
  const { stores, tables } = await sources();
  if (!isCurrent()) return;
  const first = stores[0];
  const sample = first
    ? `SELECT eventsource, eventname, count(*) AS events\nFROM "aws:cloudtrail"."${first.id}"\nGROUP BY eventsource, eventname\nORDER BY events DESC\nLIMIT 20`
    : "SELECT 1";
  // A query from the link (#/sql?q=…) only fills the editor: a link must never run SQL that the
  // user has not read, since one click on a crafted link could otherwise start a heavy query.
  const fromLink = params.get("q");
  const initial = fromLink || sessionStorage.getItem(lastKey) || sample;

  const status = h("span", { class: "status", id: "sql-status" });
  const runBtn = h("button", { type: "button", id: "run" }, "Run") as HTMLButtonElement;
  const cancelBtn = h("button", { type: "button", class: "secondary", disabled: true }, "Cancel") as HTMLButtonElement;
  const maxRows = h("select", { "aria-label": "Row limit" }, [100, 1000, 10000].map((n) => h("option", { value: n, selected: n === 1000 }, `${num(n)} rows`))) as HTMLSelectElement;
  const editorBox = h("div", { class: "editor", id: "editor" });
  const results = h("div", { class: "results", id: "results" }, h("div", { class: "empty" }, "Write a query and press Ctrl-Enter (⌘-Enter on a Mac) to run it."));

  let view: EditorView;
  const insert = (text: string) => {
    view.dispatch(view.state.replaceSelection(text));
    view.focus();
  };
  root.append(h("div", { class: "sql-layout" },
    h("aside", { class: "panel schema", id: "schema" }, h("h2", {}, "Tables"), schemaTree(tables, insert)),
    h("div", {},
      h("section", { class: "panel" }, editorBox,
        h("div", { class: "toolbar" }, runBtn, cancelBtn, maxRows, h("span", { class: "hint" }, "Ctrl-Enter runs"), status)),
      h("section", { class: "panel" }, results))));

  let running: AbortController | null = null;
  const run = async () => {
    const text = view.state.doc.toString();
    if (!text.trim()) return;
    running?.abort();
    const ctl = new AbortController();
    running = ctl;
    sessionStorage.setItem(lastKey, text);
    runBtn.disabled = true; cancelBtn.disabled = false;
    status.textContent = "Running…";
    try {
      const res = await api.query(text, Number(maxRows.value), ctl.signal);
      if (!isCurrent() || running !== ctl) return;
      status.textContent = `${num(res.row_count)} row${res.row_count === 1 ? "" : "s"}${res.truncated ? ` (first ${num(res.max_rows)}; more were cut off)` : ""} in ${num(res.elapsed_ms, 1)} ms`;
      showResult(results, res);
    } catch (e) {
      if (!isCurrent() || running !== ctl) return;
      if (e instanceof DOMException && e.name === "AbortError") {
        status.textContent = "Cancelled.";
        return;
      }
      status.textContent = "Failed.";
      results.replaceChildren(h("div", { class: "error", role: "alert", id: "query-error" }, explain(e)));
    } finally {
      if (running === ctl) { running = null; runBtn.disabled = false; cancelBtn.disabled = true; }
    }
  };
  runBtn.addEventListener("click", run);
  cancelBtn.addEventListener("click", () => running?.abort());

  const schema: Record<string, string[]> = {};
  for (const t of tables) schema[`"${t.schema}"."${t.name}"`] = t.columns.map((c) => c.name);
  view = new EditorView({
    parent: editorBox,
    state: EditorState.create({
      doc: initial,
      extensions: [
        Prec.highest(keymap.of([{ key: "Mod-Enter", run: () => { run(); return true; } }, { key: "Ctrl-Enter", run: () => { run(); return true; } }])),
        lineNumbers(), highlightActiveLine(), history(), bracketMatching(), closeBrackets(), autocompletion(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        sql({ dialect: StandardSQL, schema, upperCaseKeywords: true }),
        keymap.of([...defaultKeymap, ...historyKeymap, ...completionKeymap, indentWithTab]),
        placeholder("SELECT … FROM \"aws:cloudtrail\".\"<event data store id>\""),
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ "aria-label": "SQL query" }),
      ],
    }),
  });
  view.focus();
  if (fromLink) status.textContent = "Query from the link: read it, then press Run.";
}

function explain(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === "query_error") return "The query could not run:\n" + e.message;
    if (e.code === "timeout") return e.message + ". Narrow the time range (WHERE eventtime > …) or add a LIMIT.";
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

function schemaTree(tables: Table[], insert: (s: string) => void): HTMLElement {
  if (tables.length === 0) return h("div", { class: "empty" }, "No tables yet.");
  const sorted = [...tables].sort((a, b) => b.kind.localeCompare(a.kind) || a.schema.localeCompare(b.schema) || a.name.localeCompare(b.name));
  return h("div", {}, sorted.map((t, i) => h("details", { open: i === 0 && tables.length < 4 },
    h("summary", { title: "Click a name to insert it" },
      h("span", { ondblclick: (() => insert(`"${t.schema}"."${t.name}"`)) as EventListener }, `${t.schema}.${t.name}`),
      h("span", { class: "kind" }, t.kind === "eds" ? "events" : "cost")),
    h("ul", {}, h("li", { onclick: (() => insert(`"${t.schema}"."${t.name}"`)) as EventListener }, h("i", {}, "insert table name")),
      t.columns.map((c) => h("li", { title: `${c.name} ${c.type}`, onclick: (() => insert(c.name)) as EventListener },
        h("span", {}, c.name), h("span", { class: "type" }, c.type.toLowerCase())))))));
}

function showResult(box: HTMLElement, res: QueryResult): void {
  const tableView = h("div", {}, resultTable(res));
  const chartSpec = chartable(res);
  const chartView = h("div", { class: "chart", id: "result-chart" });
  const tabs = h("div", { class: "tabs", role: "tablist" });
  const show = (which: "table" | "chart") => {
    tabs.querySelectorAll("button").forEach((b) => b.classList.toggle("active", b.dataset.tab === which));
    tableView.hidden = which !== "table";
    chartView.hidden = which !== "chart";
    if (which === "chart" && chartSpec) drawResult(chartView, res, chartSpec);
  };
  tabs.append(h("button", { type: "button", "data-tab": "table", onclick: (() => show("table")) as EventListener }, "Table"));
  if (chartSpec) tabs.append(h("button", { type: "button", "data-tab": "chart", onclick: (() => show("chart")) as EventListener }, "Chart"));
  const dl = h("div", { class: "toolbar" },
    h("button", { type: "button", class: "secondary", onclick: (() => download("auditlake-result.csv", "text/csv", toCSV(res))) as EventListener }, "Download CSV"),
    h("button", { type: "button", class: "secondary", onclick: (() => download("auditlake-result.json", "application/json", toJSON(res))) as EventListener }, "Download JSON"));
  box.replaceChildren(tabs, tableView, chartView, dl);
  show("table");
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

const numericType = /INT|DOUBLE|FLOAT|DECIMAL|REAL|NUMERIC/i;
const timeType = /TIMESTAMP|DATE/i;

function resultTable(res: QueryResult): HTMLElement {
  if (res.rows.length === 0) return h("div", { class: "empty" }, "The query returned no rows.");
  const isNum = res.columns.map((c) => numericType.test(c.type));
  return h("div", { class: "table-wrap" }, h("table", { id: "result-table" },
    h("thead", {}, h("tr", {}, res.columns.map((c, i) => h("th", { class: isNum[i] ? "num" : "", title: c.type }, c.name)))),
    h("tbody", {}, res.rows.map((r) => h("tr", {}, r.map((v, i) => {
      const text = cell(v);
      const cls = v === null || v === undefined ? "null" : isNum[i] ? "num" : text.length > 60 ? "wrap mono" : "";
      return h("td", { class: cls }, text);
    }))))));
}

interface ChartSpec { x: number; time: boolean; ys: number[] }

/** A result is chartable when it has a time or text column and at least one number column. */
function chartable(res: QueryResult): ChartSpec | null {
  if (res.rows.length < 1) return null;
  const isNum = (c: Column, i: number) => numericType.test(c.type) || (!c.type && res.rows.every((r) => typeof r[i] === "number" || r[i] === null));
  const ys = res.columns.map((c, i) => (isNum(c, i) ? i : -1)).filter((i) => i >= 0);
  let x = res.columns.findIndex((c) => timeType.test(c.type));
  const time = x >= 0;
  if (x < 0) x = res.columns.findIndex((c, i) => !isNum(c, i));
  if (x < 0 || ys.length === 0) return null;
  return { x, time, ys: ys.filter((i) => i !== x).slice(0, 4) };
}

function drawResult(el: HTMLElement, res: QueryResult, spec: ChartSpec): void {
  const palette = [colors.accent, colors.no_template, colors.approved, colors.not_approved];
  const rows = spec.time ? [...res.rows].sort((a, b) => String(a[spec.x]).localeCompare(String(b[spec.x]))) : res.rows.slice(0, 50);
  draw(el, {
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 8, right: 16, top: 30, bottom: 8, containLabel: true },
    xAxis: spec.time ? { type: "time" } : { type: "category", data: rows.map((r) => cell(r[spec.x])), axisLabel: { rotate: rows.length > 8 ? 30 : 0, width: 120, overflow: "truncate" } },
    yAxis: { type: "value" },
    series: spec.ys.map((yi, k) => ({
      name: res.columns[yi].name, type: spec.time ? "line" : "bar", symbolSize: 4, barMaxWidth: 32,
      itemStyle: { color: palette[k % palette.length] },
      data: spec.time ? rows.map((r) => [r[spec.x], Number(r[yi])]) : rows.map((r) => Number(r[yi])),
    })),
  });
}

/**
 * A spreadsheet runs a cell that starts with = + - or @ as a formula, and skips a leading tab or
 * carriage return before one (CSV injection, OWASP); event fields are attacker-controlled. Such
 * text cells and column names get a leading ' so they open as the text they are. Numbers (and
 * every value of a numeric column, -5 included) are left exact.
 */
function csvSafe(s: string): string {
  return /^[=+\-@\t\r]/.test(s) ? "'" + s : s;
}

function toCSV(res: QueryResult): string {
  const q = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const isNum = res.columns.map((c) => numericType.test(c.type));
  const text = (v: unknown, i: number) => (typeof v === "number" || isNum[i] ? String(v) : csvSafe(cell(v)));
  const lines = [res.columns.map((c) => q(csvSafe(c.name))).join(",")];
  for (const r of res.rows) lines.push(r.map((v, i) => (v === null || v === undefined ? "" : q(text(v, i)))).join(","));
  return lines.join("\r\n") + "\r\n";
}

function toJSON(res: QueryResult): string {
  return JSON.stringify(res.rows.map((r) => Object.fromEntries(res.columns.map((c, i) => [c.name, r[i]]))), null, 2);
}

function download(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name }) as HTMLAnchorElement;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
