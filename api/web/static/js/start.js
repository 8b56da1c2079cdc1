// The rules page: start an attempt (formal or practice), then open the exam page.
import { api, ApiError, showError } from "./api.js";
import { t } from "./i18n.js";

const button = document.getElementById("start-button");
const error = document.getElementById("form-error");

if (button) {
  button.addEventListener("click", async () => {
    const practice = button.dataset.practice === "true";
    const label = button.textContent;
    button.disabled = true;
    button.textContent = t("js.rules.busy");
    error.textContent = "";
    try {
      const paper = await api("POST", `/api/exams/${encodeURIComponent(button.dataset.exam)}/attempts`, { practice });
      window.location.assign(`/learner/attempts/${paper.attempt}`);
    } catch (err) {
      const open = err instanceof ApiError && err.code === "attempt_open";
      const attempt = open && err.problem.errors && err.problem.errors[0] && err.problem.errors[0].open_attempt;
      if (attempt) {
        window.location.assign(`/learner/attempts/${attempt}`);
        return;
      }
      showError(error, err);
      button.disabled = false;
      button.textContent = label;
    }
  });
}
