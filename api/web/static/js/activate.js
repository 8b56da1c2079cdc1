// Choosing a password from an activation or reset link: the token is the URL's fragment
// (never sent to a server); POST /auth/activate signs in, then home.
import { api, showError } from "./api.js";
import { confirmed } from "./new-password.js";

const form = document.getElementById("activate-form");
const error = document.getElementById("form-error");
// Out of the address bar and the history once read (a shared screen shows no live
// link), kept for this tab only, so that switching the language keeps it.
const KEY = "examengine.activation";
let token = decodeURIComponent(window.location.hash.slice(1));
if (token) {
  sessionStorage.setItem(KEY, token);
  history.replaceState(null, "", window.location.pathname + window.location.search);
} else {
  token = sessionStorage.getItem(KEY) || "";
}
if (token.length < 16) {
  document.getElementById("no-token").hidden = false;
  form.querySelector("button[type=submit]").disabled = true;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const fresh = form.elements.new_password.value;
  error.textContent = "";
  if (!confirmed(form, error)) return;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await api("POST", "/auth/activate", { token, new_password: fresh });
    sessionStorage.removeItem(KEY);
    window.location.assign("/");
  } catch (err) {
    showError(error, err);
    button.disabled = false;
  }
});
