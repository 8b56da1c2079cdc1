// The new-password pair of the password change and the activation page: whether the two
// entries agree, said in the form's error box when they do not.
import { t } from "./i18n.js";

export function confirmed(form, error) {
  if (form.elements.new_password.value === form.elements.confirm_password.value) return true;
  error.textContent = t("js.password.mismatch");
  form.elements.confirm_password.setAttribute("aria-invalid", "true");
  form.elements.confirm_password.focus();
  return false;
}
