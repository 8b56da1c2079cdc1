// Training plans (api/web/plans.py): check a plan file and read what it holds, or the
// refusal naming the file and the field; store it and redraw the list from the server;
// operators change a plan's price. Every action goes through the plan API (/api/plans/…).
import { ApiError, api, postForm, refresh } from "./api.js";
import { lang, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const dataNode = $("page-data");
const page = dataNode ? JSON.parse(dataNode.textContent || "{}") : {};

/** ``250`` → ``¥2.50`` (as the server writes money). */
export function money(fen) {
  const sign = fen < 0 ? "-" : "";
  const value = Math.abs(fen);
  return `${sign}¥${Math.floor(value / 100).toLocaleString("en-US")}.${String(value % 100).padStart(2, "0")}`;
}

/** A price in yuan as typed ("33", "2.5", "¥1,000.00") in fen, or null. */
export function fenOf(text) {
  const found = /^(?:¥|￥)?(\d{1,9})(?:[.。](\d{1,2}))?$/.exec(text.replace(/[\s,，]/g, ""));
  if (!found) return null;
  return Number(found[1]) * 100 + Number((found[2] || "").padEnd(2, "0"));
}

/** One person's place: the price, or the price an hour × the plan's hours (half up). */
export function unitFen(priceFen, basis, hours) {
  return basis === "hour" ? Math.round(priceFen * hours) : priceFen;
}

/** ``¥5.00（每学时 ¥2.50）``, ``¥33.00（按人计价）`` or 免费, as the table writes it. */
export function priceText(priceFen, basis, unit) {
  if (priceFen <= 0) return t("js.author_plans.free");
  if (basis === "hour") return t("js.author_plans.price.hour", { unit: money(unit), price: money(priceFen) });
  return t("js.author_plans.price.person", { unit: money(unit) });
}

const hoursText = (value) => String(Number(value));

function setNotice(node, text, kind = "") {
  node.hidden = false;
  node.className = "notice" + (kind ? ` notice--${kind}` : "");
  node.textContent = text;
}

/** Show `text` in the page's status region and move the focus there. */
function say(text, kind = "ok") {
  const status = $("action-status");
  setNotice(status, text, kind);
  status.setAttribute("tabindex", "-1");
  status.focus();
}

/** POST the chosen file as the multipart field ``file``; the JSON reply, or ApiError. */
async function postFile(url, file) {
  const form = new FormData();
  form.append("file", file, file.name);
  return postForm(url, form);
}

// ------------------------------------------------------------------ check and store

/** Why the API refused, in the page's language: the problem's own words (a refusal of a
 * file starts with the file's name, kept as it is spelt), else the error's message. */
export function reason(error) {
  const problem = error instanceof ApiError ? error.problem : {};
  return (lang === "zh" ? problem.detail_zh : problem.detail) || problem.detail || error.message;
}

function examText(key) {
  if (!key) return t("js.author_plans.no_exam");
  const title = (page.exams || {})[key];
  return title || t("js.author_plans.exam_missing", { exam: key });
}

function categoryText(category) {
  const key = `js.author_plans.category.${category}`;
  const text = t(key);
  return text === key ? category : text;
}

/** What a checked file holds, as label/value pairs. */
export function summaryRows(c) {
  return [
    [t("js.author_plans.s.plan"), c.title],
    [t("js.author_plans.s.key"), c.plan],
    [t("js.author_plans.s.year"), String(c.year)],
    [t("js.author_plans.s.category"), categoryText(c.category)],
    [t("js.author_plans.s.hours"), t("js.author_plans.hours", { required: hoursText(c.required_hours), elective: hoursText(c.elective_hours) })],
    [t("js.author_plans.s.courses"), t("js.author_plans.n_courses", { n: c.courses })],
    [t("js.author_plans.s.chapters"), t("js.author_plans.n_chapters", { n: c.chapters })],
    [t("js.author_plans.s.exam"), examText(c.exam)],
    [t("js.author_plans.s.policy"), t(`js.author_plans.policy.${c.policy}`)],
    [t("js.author_plans.s.price"), priceText(c.price_fen, c.price_basis, c.unit_fen)],
  ];
}

function showSummary(checked) {
  const list = $("summary-list");
  list.replaceChildren();
  for (const [label, value] of summaryRows(checked)) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    list.append(dt, dd);
  }
  $("plan-summary").hidden = false;
}

const storedKeys = () => new Set([...document.querySelectorAll("#plans-table tr[data-plan]")].map((row) => row.dataset.plan));

function initUpload() {
  const form = $("plan-form");
  if (!form) return;
  const file = $("plan-file");
  const status = $("plan-status");
  const store = $("store-button");
  const summary = $("plan-summary");

  const chosen = () => {
    if (file.files.length) return file.files[0];
    setNotice(status, t("js.author_plans.need_file"), "error");
    file.focus();
    return null;
  };

  file.addEventListener("change", () => {
    store.disabled = true;
    summary.hidden = true;
    status.textContent = "";
    status.className = "notice";
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const picked = chosen();
    if (!picked) return;
    store.disabled = true;
    summary.hidden = true;
    setNotice(status, t("js.author_plans.checking"));
    try {
      const checked = await postFile("/api/plans/check", picked);
      showSummary(checked);
      const which = storedKeys().has(checked.plan) ? "js.author_plans.checked_replaces" : "js.author_plans.checked_new";
      setNotice(status, t(which, { key: checked.plan }), "ok");
      store.disabled = false;
    } catch (error) {
      setNotice(status, t("js.author_plans.refused", { reason: reason(error) }), "error");
    }
  });

  store.addEventListener("click", async () => {
    const picked = chosen();
    if (!picked) return;
    store.disabled = true;
    setNotice(status, t("js.author_plans.storing"));
    try {
      const stored = await postFile("/api/plans/import", picked);
      showSummary(stored);
      await refresh();
      setNotice(status, t("js.author_plans.stored", { title: stored.title }), "ok");
    } catch (error) {
      setNotice(status, t("js.author_plans.not_stored", { reason: reason(error) }), "error");
    }
  });
}

// ----------------------------------------------------------------------- the price

function initPrice() {
  const dialog = $("price-dialog");
  if (!dialog) return;
  const form = dialog.querySelector("form");
  const yuan = $("price-yuan");
  const basis = $("price-basis");
  const preview = $("price-preview");
  const error = dialog.querySelector(".dialog-error");
  const submit = form.querySelector("button[type=submit]");
  let target = null; // the dataset of the button whose dialog is open

  const showPreview = () => {
    const fen = fenOf(yuan.value);
    preview.textContent =
      fen === null || !target ? "" : t("js.author_plans.price_preview", { unit: priceText(fen, basis.value, unitFen(fen, basis.value, Number(target.hours))) });
  };
  const edited = () => {
    error.textContent = ""; // a refusal speaks of the value before this edit
    yuan.removeAttribute("aria-invalid");
    showPreview();
  };
  yuan.addEventListener("input", edited);
  basis.addEventListener("change", edited);
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-action=reprice]");
    if (!button) return;
    target = { ...button.dataset };
    form.reset();
    error.textContent = "";
    yuan.removeAttribute("aria-invalid");
    dialog.querySelector(".dialog-who").textContent = target.title;
    yuan.value = target.yuan;
    basis.value = target.basis;
    showPreview();
    dialog.showModal();
    yuan.focus();
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const fen = fenOf(yuan.value);
    if (fen === null) {
      error.textContent = t("js.author_plans.bad_yuan");
      yuan.setAttribute("aria-invalid", "true");
      yuan.focus();
      return;
    }
    yuan.removeAttribute("aria-invalid");
    submit.disabled = true;
    try {
      const priced = await api("PUT", `/api/plans/${encodeURIComponent(target.plan)}/price`, { price_fen: fen, price_basis: basis.value });
      dialog.close();
      await refresh();
      say(t("js.author_plans.repriced", { title: priced.title, price: priceText(priced.price_fen, priced.price_basis, priced.unit_fen) }));
    } catch (problem) {
      error.textContent = problem.message;
    } finally {
      submit.disabled = false;
    }
  });
}

initUpload();
initPrice();
