// Loaded on every page: the sign-out button in the header.
import { api } from "./api.js";

for (const button of document.querySelectorAll("[data-action=logout]")) {
  button.addEventListener("click", async () => {
    try {
      await api("POST", "/auth/logout");
    } finally {
      window.location.assign("/login");
    }
  });
}
