// Buying plans: an employer administrator's group purchase (ID numbers pasted one per
// line, checked with each failing line's reason and the error file, then one order with
// the bank-transfer instructions), and a learner buying a plan, or enrolling in a free
// one, on "My study plans".
import { api, ApiError, csrfHeaders, NetworkError } from "./api.js";
import { lang, t } from "./i18n.js";
import { money, refresh, say } from "./orders.js";

const $ = (id) => document.getElementById(id);
const local = (zh, en) => (lang === "en" ? en : zh);

function node(tag, text = "", className = "") {
  const made = document.createElement(tag);
  if (text) made.textContent = text;
  if (className) made.className = className;
  return made;
}

function show(result, kind, ...children) {
  result.hidden = false;
  result.className = `notice purchase-result${kind ? ` notice--${kind}` : ""}`;
  result.replaceChildren(...children);
}

function lineList(lines) {
  const list = node("ul", "", "check-lines");
  for (const line of lines) {
    list.append(node("li", t("js.employer.line", { ...line, reason: local(line.reason_zh, line.reason) })));
  }
  return list;
}

/** The refusal of a purchase, with the reason of each line it names (`logins[n]`). */
function refusal(error) {
  const parts = [node("p", error.message)];
  const errors = error instanceof ApiError ? error.problem.errors || [] : [];
  const lines = errors.filter((e) => /^logins\[\d+\]$/.test(e.field || ""));
  if (lines.length) {
    const list = node("ul", "", "check-lines");
    for (const e of lines) {
      const line = e.field.slice(7, -1);
      list.append(node("li", t("js.purchase.error_line", { line, reason: local(e.message_zh, e.message) })));
    }
    parts.push(list);
  }
  return parts;
}

function payBox(pay) {
  const box = node("div", "", "notice notice--warn pay-box");
  box.append(node("p", t("js.orders.pay_title", { title: local(pay.title_zh, pay.title) }), "pay-box__title"));
  const list = node("ul");
  for (const line of local(pay.lines_zh, pay.lines)) list.append(node("li", line));
  box.append(list);
  return box;
}

// ------------------------------------------------------------- group purchase
const form = $("purchase-form");
const result = $("purchase-result");
let errorUrl = null;

function purchase() {
  return { plan: form.elements.plan.value, logins: form.elements.logins.value };
}

function hasLogins() {
  const ok = form.elements.logins.value.trim() !== "";
  if (!ok) {
    form.elements.logins.setAttribute("aria-invalid", "true");
    form.elements.logins.focus();
    show(result, "error", node("p", t("js.purchase.need_logins")));
  } else {
    form.elements.logins.removeAttribute("aria-invalid");
  }
  return ok;
}

async function errorFile(body) {
  let response;
  try {
    response = await fetch("/api/employer/orders/check?format=xlsx", {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", ...csrfHeaders() },
    });
  } catch (error) {
    throw new NetworkError(error);
  }
  if (!response.ok) throw new ApiError(response.status, {});
  if (errorUrl) URL.revokeObjectURL(errorUrl);
  errorUrl = URL.createObjectURL(await response.blob());
  const link = node("a", t("js.purchase.error_file"), "btn btn--secondary btn--small");
  link.href = errorUrl;
  link.download = `${body.plan}-errors.xlsx`;
  return link;
}

async function check(button) {
  if (!hasLogins()) return;
  const body = purchase();
  button.disabled = true;
  show(result, "", node("p", t("js.orders.busy")));
  try {
    const report = await api("POST", "/api/employer/orders/check", body);
    const values = { ...report, amount: money(report.amount_fen), unit: money(report.unit_fen) };
    if (!report.failed) {
      show(result, "ok", node("p", t("js.purchase.all_ok", values)));
      return;
    }
    show(result, "warn", node("p", t("js.purchase.checked", values)), lineList(report.lines), await errorFile(body));
  } catch (error) {
    show(result, "error", ...refusal(error));
  } finally {
    button.disabled = false;
  }
}

async function place(event) {
  event.preventDefault();
  if (!hasLogins()) return;
  const body = purchase();
  if (form.elements.want_invoice.checked) {
    body.invoice = {
      title: form.elements.invoice_title.value.trim(),
      tax_id: form.elements.invoice_tax_id.value.trim() || undefined,
      email: form.elements.invoice_email.value.trim() || undefined,
    };
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  show(result, "", node("p", t("js.orders.busy")));
  try {
    const placed = await api("POST", "/api/employer/orders", body);
    const { order, check: report } = placed;
    const parts = [node("p", t("js.purchase.placed", { number: order.number, people: order.learners, amount: money(order.amount_fen) }), "placed")];
    if (order.invoice) parts.push(node("p", t("js.purchase.invoice_too")));
    if (order.pay) parts.push(payBox(order.pay));
    if (report.failed) parts.push(node("p", t("js.purchase.left_out", { n: report.failed })), lineList(report.lines));
    const view = node("a", t("js.purchase.view_order"));
    view.href = `/employer/orders?order=${encodeURIComponent(order.number)}`;
    parts.push(node("p"));
    parts[parts.length - 1].append(view);
    show(result, "ok", ...parts);
    form.elements.logins.value = "";
    await refresh();
    result.setAttribute("tabindex", "-1");
    result.focus();
  } catch (error) {
    show(result, "error", ...refusal(error));
  } finally {
    button.disabled = false;
  }
}

if (form) {
  form.addEventListener("submit", place);
  form.querySelector("button[data-action=check]").addEventListener("click", (event) => check(event.currentTarget));
  // The chosen plan's whole label (title, year, price) under the list, which a phone cuts.
  form.elements.plan.addEventListener("change", () => {
    $("purchase-plan-price").textContent = form.elements.plan.selectedOptions[0]?.textContent || "";
  });
  form.elements.want_invoice.addEventListener("change", () => {
    $("purchase-invoice").hidden = !form.elements.want_invoice.checked;
  });
}

// ------------------------------------------------------- a learner's own plan
async function buy(button) {
  button.disabled = true;
  try {
    const order = await api("POST", "/api/me/orders", { plan: button.dataset.plan });
    await refresh();
    say(t("js.plans.bought", { number: order.number, amount: money(order.amount_fen) }));
  } catch (error) {
    say(error.message, "error");
    button.disabled = false;
  }
}

async function enroll(button) {
  button.disabled = true;
  try {
    await api("POST", `/api/me/plans/${encodeURIComponent(button.dataset.plan)}`);
    say(t("js.plans.enrolled", { title: button.dataset.title }));
    window.setTimeout(() => window.location.reload(), 800);
  } catch (error) {
    say(error.message, "error");
    button.disabled = false;
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest?.("button[data-action=buy], button[data-action=enroll]");
  if (!button) return;
  if (button.dataset.action === "buy") buy(button);
  else enroll(button);
});
