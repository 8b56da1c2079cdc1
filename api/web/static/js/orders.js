// Actions on orders (api/web/orders.py): cancel one (with a confirmation), ask for or
// correct its invoice, and for operators confirm a bank transfer, refund and write back
// an invoice number. Each goes through the order API; the page's [data-refresh] parts
// (the lists, one order) are then redrawn from the server, which renders them.
import { api, refresh } from "./api.js";
import { t } from "./i18n.js";

const $ = (id) => document.getElementById(id);

/** ``6600`` → ``¥66.00`` (as the server writes money). */
export function money(fen) {
  const sign = fen < 0 ? "-" : "";
  const value = Math.abs(fen);
  return `${sign}¥${Math.floor(value / 100).toLocaleString("en-US")}.${String(value % 100).padStart(2, "0")}`;
}

/** An amount in yuan as typed ("66", "66.5", "¥1,066.00") in fen, or null. */
export function fenOf(text) {
  const found = /^(?:¥|￥)?(\d{1,9})(?:\.(\d{1,2}))?$/.exec(text.replace(/[\s,，]/g, ""));
  if (!found) return null;
  return Number(found[1]) * 100 + Number((found[2] || "").padEnd(2, "0"));
}

/** Show `text` in the page's status region (ok or error) and move the focus there. */
export function say(text, kind = "ok") {
  const status = $("action-status");
  if (!status) return;
  status.hidden = false;
  status.className = `notice notice--${kind}`;
  status.textContent = text;
  status.setAttribute("tabindex", "-1");
  status.focus();
}

export { refresh }; // the purchase page's script redraws through this module too

// --------------------------------------------------------------------- dialogs
let target = null; // the dataset of the button whose dialog is open

function openDialog(dialog, data, who) {
  target = data;
  const form = dialog.querySelector("form");
  form.reset();
  dialog.querySelector(".dialog-who").textContent = who;
  dialog.querySelector(".dialog-error").textContent = "";
  return form;
}

function wireDialog(dialog, act) {
  if (!dialog) return;
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  dialog.querySelector("form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = dialog.querySelector(".dialog-error");
    const submit = dialog.querySelector("button[type=submit]");
    submit.disabled = true;
    error.textContent = "";
    try {
      const message = await act(dialog.querySelector("form"));
      dialog.close();
      await refresh();
      say(message);
    } catch (problem) {
      error.textContent = problem.message;
    } finally {
      submit.disabled = false;
    }
  });
}

function need(field, ok, message) {
  if (ok) {
    field.removeAttribute("aria-invalid");
    return;
  }
  field.setAttribute("aria-invalid", "true");
  field.focus();
  throw new Error(message);
}

const orderUrl = (number, rest = "") => `/api/orders/${encodeURIComponent(number)}${rest}`;
const operatorUrl = (number, rest) => `/api/operator/orders/${encodeURIComponent(number)}${rest}`;

function openInvoice(data) {
  const dialog = $("invoice-dialog");
  const form = openDialog(dialog, data, t("js.orders.order", { number: data.number }));
  const heading = dialog.querySelector("h2");
  heading.textContent = data.mode === "correct" ? heading.dataset.correct : heading.dataset.request;
  const hint = $("invoice-tax-hint");
  hint.textContent = data.group === "true" ? hint.dataset.group : hint.dataset.individual;
  form.elements.title.value = data.title || "";
  form.elements.tax_id.value = data.taxId || "";
  form.elements.email.value = data.email || "";
  dialog.showModal();
  form.elements.title.focus();
}

wireDialog($("invoice-dialog"), async (form) => {
  const title = form.elements.title.value.trim();
  need(form.elements.title, title !== "", t("js.orders.need_title"));
  const body = {
    title,
    tax_id: form.elements.tax_id.value.trim() || undefined,
    email: form.elements.email.value.trim() || undefined,
  };
  const correcting = target.mode === "correct";
  await api(correcting ? "PUT" : "POST", orderUrl(target.number, "/invoice"), body);
  return t(correcting ? "js.orders.invoice_corrected" : "js.orders.invoice_requested", { number: target.number });
});

wireDialog($("pay-dialog"), async (form) => {
  const reference = form.elements.reference.value.trim();
  need(form.elements.reference, /^[0-9A-Za-z_\-./:]{1,64}$/.test(reference), t("js.orders.need_reference"));
  const fen = fenOf(form.elements.amount.value);
  need(form.elements.amount, fen !== null && fen > 0, t("js.orders.bad_amount"));
  await api("POST", operatorUrl(target.number, "/payments"), { reference, amount_fen: fen });
  return t("js.orders.paid", { number: target.number });
});

wireDialog($("refund-dialog"), async (form) => {
  const reason = form.elements.reason.value.trim();
  need(form.elements.reason, reason.length >= 2, t("js.orders.need_reason"));
  const reference = form.elements.reference.value.trim();
  need(form.elements.reference, /^[0-9A-Za-z_\-./:]{1,64}$/.test(reference), t("js.orders.need_reference"));
  need(form.elements.confirm, form.elements.confirm.checked, t("js.orders.need_confirm"));
  await api("POST", operatorUrl(target.number, "/refund"), { reason, reference });
  return t("js.orders.refunded", { number: target.number });
});

wireDialog($("issue-dialog"), async (form) => {
  const number = form.elements.number.value.trim();
  need(form.elements.number, /^[0-9A-Za-z-]{1,32}$/.test(number), t("js.orders.need_number"));
  await api("POST", operatorUrl(target.number, "/invoice/issue"), { number });
  return t("js.orders.issued", { number: target.number });
});

function show(id, data, who, focus) {
  const dialog = $(id);
  const form = openDialog(dialog, data, who);
  dialog.showModal();
  form.elements[focus].focus();
}

async function cancel(button) {
  const { number } = button.dataset;
  if (!window.confirm(t("js.orders.confirm_cancel", { number }))) return;
  button.disabled = true;
  try {
    await api("POST", orderUrl(number, "/cancel"));
    await refresh();
    say(t("js.orders.cancelled", { number }));
  } catch (error) {
    say(error.message, "error");
    button.disabled = false;
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest?.("button[data-action]");
  if (!button) return;
  const data = button.dataset;
  const amount = { number: data.number, amount: data.amount || "" };
  switch (data.action) {
    case "cancel":
      cancel(button);
      break;
    case "invoice":
      openInvoice({ ...data });
      break;
    case "pay":
      show("pay-dialog", { ...data }, t("js.orders.pay_due", amount), "reference");
      break;
    case "refund":
      show("refund-dialog", { ...data }, t("js.orders.order_amount", amount), "reason");
      break;
    case "issue":
      show("issue-dialog", { ...data }, t("js.orders.order_amount", amount), "number");
      break;
    default:
  }
});

// The invoice export's links follow the chosen year and state.
const exporting = $("export-form");
function exportLinks() {
  for (const link of exporting.querySelectorAll("a[data-format]")) {
    const query = new URLSearchParams({ year: exporting.elements.year.value, format: link.dataset.format });
    if (exporting.elements.status.value) query.set("status", exporting.elements.status.value);
    link.href = `/api/operator/invoices?${query}`;
  }
}
exporting?.addEventListener("change", exportLinks);
