// The sign-in form: POST /auth/login, then where the server says (or `next`).
import { api, ApiError, showError } from "./api.js";
import { t } from "./i18n.js";

const form = document.getElementById("login-form");
const error = document.getElementById("form-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  const login = form.elements.login.value.trim();
  const password = form.elements.password.value;
  error.textContent = "";
  for (const input of [form.elements.login, form.elements.password]) input.removeAttribute("aria-invalid");
  button.disabled = true;
  const label = button.textContent;
  button.textContent = t("js.login.busy");
  try {
    const me = await api("POST", "/auth/login", { login, password });
    const next = form.dataset.next || "/";
    window.location.assign(me.must_change_password ? "/password" : next);
  } catch (err) {
    showError(error, err);
    if (err instanceof ApiError && (err.status === 401 || err.status === 422)) {
      form.elements.password.setAttribute("aria-invalid", "true");
    }
    form.elements.password.focus();
    button.disabled = false;
    button.textContent = label;
  }
});
