// The password change: POST /auth/password, then home.
import { api, showError } from "./api.js";
import { confirmed } from "./new-password.js";

const form = document.getElementById("password-form");
const error = document.getElementById("form-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const current = form.elements.current_password.value;
  const fresh = form.elements.new_password.value;
  error.textContent = "";
  if (!confirmed(form, error)) return;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await api("POST", "/auth/password", { current_password: current, new_password: fresh });
    window.location.assign("/");
  } catch (err) {
    showError(error, err);
    button.disabled = false;
  }
});
