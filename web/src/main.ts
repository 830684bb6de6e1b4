// auditlake dashboard: hash routes to pages. Each page renders into <main> and owns it until
// the next route change.
import "./style.css";
import { sweep } from "./charts";
import { errorBox, h } from "./dom";
import { renderCompliance } from "./pages/compliance";
import { renderInstance } from "./pages/instance";
import { renderActivity } from "./pages/activity";
import { renderSources } from "./pages/collection";
import { parseRoute } from "./nav";

const app = document.getElementById("app")!;
let generation = 0;

async function route(): Promise<void> {
  const r = parseRoute(location.hash);
  const gen = ++generation;
  const isCurrent = () => gen === generation;
  document.querySelectorAll<HTMLAnchorElement>("#nav a").forEach((a) => {
    const active = a.dataset.route === r.page || (r.page === "instance" && a.dataset.route === "compliance");
    a.classList.toggle("active", active);
    if (active) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  });
  const root = h("div", { class: "page", "data-page": r.page });
  app.replaceChildren(root);
  sweep();
  try {
    switch (r.page) {
      case "compliance": await renderCompliance(root, r.params, isCurrent); break;
      case "instance": await renderInstance(root, r.arg, r.params, isCurrent); break;
      case "activity": await renderActivity(root, r.params, isCurrent); break;
      case "sources": await renderSources(root, isCurrent); break;
      case "sql": {
        const m = await import("./pages/sql");
        await m.renderSQL(root, r.params, isCurrent);
        break;
      }
      default:
        root.append(h("h1", {}, "Page not found"), h("p", {}, h("a", { href: "#/compliance" }, "Go to the compliance report")));
    }
  } catch (e) {
    if (isCurrent()) root.append(errorBox(e));
  }
  if (isCurrent()) document.title = `auditlake · ${r.page === "sql" ? "SQL" : r.page[0].toUpperCase() + r.page.slice(1)}`;
}

window.addEventListener("hashchange", route);
route();
