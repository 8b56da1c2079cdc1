// My study plans: "Study again" opens a plan's new study cycle once the exam's attempts
// are used up (POST /api/me/plans/{plan}/restudy), then the page is drawn again.
import { api } from "./api.js";
import { t } from "./i18n.js";

for (const button of document.querySelectorAll("button[data-action='restudy']")) {
  button.addEventListener("click", async () => {
    const status = document.getElementById("action-status");
    button.disabled = true;
    try {
      await api("POST", `/api/me/plans/${encodeURIComponent(button.dataset.plan)}/restudy`);
      status.hidden = false;
      status.className = "notice notice--ok";
      status.textContent = t("js.plans.restudy_started");
      window.location.reload();
    } catch (error) {
      button.disabled = false;
      status.hidden = false;
      status.className = "notice notice--error";
      status.textContent = error instanceof Error ? error.message : String(error);
      status.setAttribute("tabindex", "-1");
      status.focus();
    }
  });
}
