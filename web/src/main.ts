// auditlake dashboard: hash routes to pages. Each page renders into <main> and owns it until
// the next route change.
import "./style.css";
import { sweep } from "./charts";
import { errorBox, h } from "./dom";
import { renderCompliance } from "./pages/compliance";
import { renderInstance } from "./pages/instance";
import { renderActivity } from "./pages/activity";
import { renderSources } from "./pages/collection";
import { renderAlerts } from "./pages/alerts";
import { parseRoute } from "./nav";
import { api, ApiError, Session, setOnUnauthenticated } from "./api";
import { renderLogin } from "./login";

const app = document.getElementById("app")!;
let generation = 0;
let session: Session | null = null;

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
      case "alerts": await renderAlerts(root, r.params, isCurrent); break;
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

// showUser puts who is logged in and the logout button in the top bar (or clears them).
function showUser(s: Session | null): void {
  document.getElementById("user")?.remove();
  document.getElementById("nav")!.hidden = s === null;
  if (!s) return;
  const logout = h("button", { id: "logout", class: "secondary", type: "button" }, "Log out");
  logout.addEventListener("click", async () => {
    try { await api.logout(); } catch { /* the session is gone either way */ }
    void login();
  });
  document.querySelector(".topbar")!.append(h("div", { id: "user", class: "user" }, h("span", { id: "principal" }, s.principal), logout));
}

// login shows the login page until a login succeeds, then the page the address names.
async function login(): Promise<void> {
  session = null;
  ++generation; // a page still loading must not replace the form
  sweep();
  showUser(null);
  document.title = "auditlake · Log in";
  session = await renderLogin(app);
  showUser(session);
  await route();
}

setOnUnauthenticated(() => { if (session) void login(); });

async function start(): Promise<void> {
  try {
    session = await api.session();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return login();
    app.replaceChildren(errorBox(e));
    return;
  }
  showUser(session);
  await route();
}

window.addEventListener("hashchange", () => { if (session) void route(); });
void start();
