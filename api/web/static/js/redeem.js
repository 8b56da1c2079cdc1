// The activation code form of "My study plans": POST /api/me/codes, then the page again
// with the new plan on it.
import { api, showError } from "./api.js";
import { t } from "./i18n.js";

const form = document.getElementById("redeem-form");
const result = document.getElementById("redeem-result");

form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const code = form.elements.code.value.trim();
  if (!code) {
    form.elements.code.focus();
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  result.hidden = false;
  result.classList.remove("notice--error");
  try {
    const done = await api("POST", "/api/me/codes", { code });
    result.textContent = t("js.plans.redeemed", { title: done.plan_title });
    window.setTimeout(() => window.location.reload(), 1200);
  } catch (error) {
    result.classList.add("notice--error");
    showError(result, error);
    form.elements.code.setAttribute("aria-invalid", "true");
    button.disabled = false;
  }
});
