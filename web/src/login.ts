// The login page: an access key id and its secret (auditlake user create prints both) become a
// session cookie (HttpOnly, so the page never sees it) and a CSRF token kept by api.ts.
import { api, ApiError, Session } from "./api";
import { errorBox, h } from "./dom";

/** Renders the login form into root and resolves with the session once a login succeeds. */
export function renderLogin(root: HTMLElement): Promise<Session> {
  return new Promise((resolve) => {
    const id = h("input", { id: "access-key-id", name: "access_key_id", autocomplete: "username", required: true, spellcheck: "false", autocapitalize: "none" }) as HTMLInputElement;
    const secret = h("input", { id: "secret-access-key", name: "secret_access_key", type: "password", autocomplete: "current-password", required: true }) as HTMLInputElement;
    const button = h("button", { id: "login", type: "submit" }, "Log in") as HTMLButtonElement;
    const status = h("div", { id: "login-status" });
    const form = h("form", { class: "panel login", id: "login-form" },
      h("h1", {}, "Log in to auditlake"),
      h("label", { for: "access-key-id" }, "Access key id"), id,
      h("label", { for: "secret-access-key" }, "Secret access key"), secret,
      button, status,
      h("p", { class: "hint" }, "An administrator creates your key with auditlake user create NAME."),
    ) as HTMLFormElement;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      button.disabled = true;
      status.replaceChildren();
      try {
        const s = await api.login(id.value.trim(), secret.value.trim());
        secret.value = "";
        resolve(s);
      } catch (e) {
        const box = errorBox(e instanceof ApiError && e.status === 401 ? new Error("The access key id or the secret is not valid.") : e);
        box.id = "login-error";
        status.replaceChildren(box);
      } finally {
        button.disabled = false;
      }
    });
    root.replaceChildren(form);
    id.focus();
  });
}
