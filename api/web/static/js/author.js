// The course team's bank pages: upload → lint report → import; publish a version; edit an
// item (PUT, a new version when the latest is published). Whichever parts the page has.
import { ApiError, api, postForm } from "./api.js";
import { lang, t, tn } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const dataNode = $("page-data");
const page = dataNode ? JSON.parse(dataNode.textContent || "{}") : {};

/** A message in the page's language from a problem or lint entry ({message, message_zh}). */
function say(entry) {
  return (lang === "zh" ? entry.message_zh : entry.message) || entry.message || "";
}

function setNotice(node, text, kind = "") {
  node.className = "notice" + (kind ? ` notice--${kind}` : "");
  node.textContent = text;
}

function cell(tag, text, className = "", label = "") {
  const node = document.createElement(tag);
  node.textContent = text;
  if (className) node.className = className;
  // The column's name, shown beside the value when a phone lays the row out as a card.
  if (label) node.dataset.label = label;
  return node;
}

/** ``node`` marked as content (a bank's words, not the interface's). */
function contentCell(node) {
  node.dataset.content = "";
  return node;
}

/** A format's name for people ("Moodle XML"), not its key ("moodle"). */
export function formatName(key) {
  const name = t(`js.author.format.${key}`);
  return name.startsWith("js.") ? key : name;
}

/** ``file:line:col`` as the CLI prints it (``file[sheet]:row:col`` for spreadsheets). */
export function where(problem) {
  let name = problem.file || "<input>";
  if (problem.sheet) name += `[${problem.sheet}]`;
  return `${name}:${problem.line || 0}:${problem.col || 0}`;
}

// ----------------------------------------------------------------------------- upload

function fillReport(problems) {
  const table = $("report-table");
  const body = table.tBodies[0];
  const labels = [...table.tHead.rows[0].cells].map((th) => th.textContent);
  body.replaceChildren();
  for (const p of problems) {
    const row = document.createElement("tr");
    row.className = `severity-${p.severity || "error"}`;
    row.dataset.line = String(p.line || 0);
    row.append(
      cell("td", where(p), "where", labels[0]),
      cell("td", t(`js.author.severity.${p.severity || "error"}`), "severity", labels[1]),
      cell("td", p.code, "code", labels[2]),
      contentCell(cell("td", p.item_key || "", p.item_key ? "item" : "item empty", labels[3])),
      cell("td", say(p), "message", labels[4]),
    );
    body.append(row);
  }
  // A clean file says so instead of showing an empty table.
  $("report-wrap").hidden = !problems.length;
  $("report-clean").hidden = problems.length > 0;
}

/** "bank.gift (GIFT): 3 questions, 1 with errors; 1 error, 2 warnings." */
export function lintSummary(result) {
  const seen = result.items_seen ?? result.items;
  const broken = result.items_with_errors ?? 0;
  return t("js.author.lint_summary", {
    source: result.source,
    format: formatName(result.format),
    questions: tn("js.author.n_questions", seen),
    broken: broken ? t("js.author.n_broken", { n: broken }) : t("js.author.none_broken"),
    errors: tn("js.author.n_errors", result.errors),
    warnings: tn("js.author.n_warnings", result.warnings),
  });
}

function uploadForm() {
  const form = new FormData();
  const file = $("file").files[0];
  form.append("file", file, file.name);
  const format = $("format").value;
  if (format) form.append("format", format);
  return form;
}

function initUpload() {
  const form = $("upload-form");
  const status = $("upload-status");
  const importButton = $("import-button");
  const report = $("report");
  const summary = $("report-summary");

  const check = () => {
    if (!$("file").files.length) {
      setNotice(status, t("js.author.need_file"), "error");
      $("file").focus();
      return false;
    }
    return true;
  };

  $("file").addEventListener("change", () => {
    importButton.disabled = true;
  });
  $("format").addEventListener("change", () => {
    importButton.disabled = true;
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!check()) return;
    importButton.disabled = true;
    setNotice(status, t("js.author.linting"));
    try {
      const result = await postForm("/api/banks/lint", uploadForm());
      fillReport(result.problems);
      report.hidden = false;
      summary.textContent = lintSummary(result);
      if (result.errors) {
        setNotice(status, t("js.author.lint_blocked"), "error");
      } else {
        setNotice(status, t("js.author.lint_clean"), "ok");
        importButton.disabled = false;
      }
    } catch (error) {
      report.hidden = true;
      setNotice(status, error.message, "error");
    }
  });

  importButton.addEventListener("click", async () => {
    const bank = $("bank").value.trim();
    if (!bank) {
      setNotice(status, t("js.author.need_bank"), "error");
      $("bank").focus();
      return;
    }
    if (!check()) return;
    importButton.disabled = true;
    setNotice(status, t("js.author.importing"));
    try {
      const result = await postForm(`/api/banks/${encodeURIComponent(bank)}/import`, uploadForm());
      const v = result.version;
      const text = result.unchanged
        ? t("js.author.unchanged", { version: v.version })
        : t("js.author.imported", {
            bank: v.bank,
            version: v.version,
            state: t(`js.author.state.${v.state}`),
            items: tn("js.author.n_items", v.item_count),
          });
      setNotice(status, text + " ", "ok");
      const link = document.createElement("a");
      link.href = `/author/banks/${encodeURIComponent(v.bank)}`;
      link.textContent = t("js.author.open_bank");
      status.append(link);
      fillReport(result.lint.problems);
      summary.textContent = lintSummary(result.lint);
      report.hidden = false;
    } catch (error) {
      // An import with errors is refused whole: the problems come back in `errors`.
      if (error instanceof ApiError && Array.isArray(error.problem.errors) && error.problem.errors.length) {
        fillReport(error.problem.errors);
        report.hidden = false;
      }
      setNotice(status, error.message, "error");
    }
  });
}

// ------------------------------------------------------------------------------ bank

function initPublishButtons() {
  const status = $("bank-status");
  for (const button of document.querySelectorAll("[data-action=publish-bank]")) {
    button.addEventListener("click", async () => {
      const { bank, version } = button.dataset;
      if (!window.confirm(t("js.author.confirm_publish", { version }))) return;
      button.disabled = true;
      setNotice(status, t("js.author.publishing"));
      try {
        await api("POST", `/api/banks/${encodeURIComponent(bank)}/versions/${version}/publish`);
        setNotice(status, t("js.author.published", { version }), "ok");
        const row = button.closest("tr");
        const badge = row.querySelector(".state .badge");
        badge.className = "badge badge--ok";
        badge.textContent = t("js.author.state.published");
        button.remove();
      } catch (error) {
        button.disabled = false;
        setNotice(status, error.message, "error");
      }
    });
  }
}

/**
 * An export link first asks what the format cannot carry (GET …/export/losses): nothing
 * lost, the download starts; something lost, the losses are listed with "download
 * anyway" beside them. Without the script the link downloads straight away.
 */
function initExportLinks() {
  const status = $("export-status");
  const panel = $("export-warnings");
  const list = $("export-warning-list");
  const anyway = $("export-anyway");
  $("export-cancel").addEventListener("click", () => {
    panel.hidden = true;
    status.textContent = "";
  });
  anyway.addEventListener("click", () => {
    panel.hidden = true;
  });
  for (const link of document.querySelectorAll("a.export-link")) {
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      const name = formatName(link.dataset.format);
      panel.hidden = true;
      setNotice(status, t("js.author.export_checking", { format: name }));
      try {
        const url = `/api/banks/${encodeURIComponent(link.dataset.bank)}/export/losses?format=${link.dataset.format}`;
        // The check writes and re-reads the whole version (decision 0034): seconds for a large
        // bank in QTI or Excel, so it is given longer than an ordinary call.
        const result = await api("GET", url, undefined, { timeoutMs: 120000, retries: 0 });
        if (!result.warnings.length) {
          setNotice(status, t("js.author.export_clean", { format: name }), "ok");
          anyway.href = link.href;
          anyway.click();
          return;
        }
        status.textContent = "";
        const items = new Set(result.warnings.map((w) => w.item_key)).size;
        $("export-warnings-title").textContent = tn("js.author.export_losses", items, { format: name });
        list.replaceChildren(...result.warnings.map((w) => cell("li", say(w))));
        anyway.href = link.href;
        panel.hidden = false;
        anyway.focus();
      } catch (error) {
        setNotice(status, error.message, "error");
      }
    });
  }
}

// ------------------------------------------------------------------------------ edit

function letter(index) {
  let s = "";
  let n = index + 1;
  while (n) {
    const rest = (n - 1) % 26;
    s = String.fromCharCode(65 + rest) + s;
    n = Math.floor((n - 1) / 26);
  }
  return s;
}

function optionRow(text = "", correct = false) {
  const row = document.createElement("li");
  row.className = "option-row";
  const label = document.createElement("label");
  label.className = "visually-hidden";
  const mark = document.createElement("span");
  mark.className = "option-letter";
  mark.setAttribute("aria-hidden", "true");
  const input = document.createElement("input");
  input.type = "text";
  input.className = "option-text";
  input.value = text;
  const checkLabel = document.createElement("label");
  checkLabel.className = "inline-check";
  const check = document.createElement("input");
  check.type = "checkbox";
  check.className = "option-correct";
  check.checked = correct;
  const hidden = cell("span", "", "visually-hidden");
  const shown = cell("span", t("js.author.correct"));
  shown.setAttribute("aria-hidden", "true");
  checkLabel.append(check, hidden, shown);
  const remove = cell("button", "", "btn btn--secondary btn--small option-remove");
  remove.type = "button";
  row.append(label, mark, input, checkLabel, remove);
  return row;
}

/** Letters, ids and labels of the option rows after a change. */
function renumber(list) {
  [...list.children].forEach((row, i) => {
    const l = letter(i);
    const input = row.querySelector(".option-text");
    input.id = `opt-text-${i}`;
    const label = row.querySelector("label.visually-hidden");
    label.htmlFor = input.id;
    label.textContent = t("js.author.option_text", { letter: l });
    row.querySelector(".option-letter").textContent = l;
    row.querySelector(".inline-check .visually-hidden").textContent = t("js.author.option_correct", { letter: l });
    row.querySelector(".option-remove").textContent = t("js.author.remove_option", { letter: l });
  });
}

function currentKind() {
  const node = $("item-kind");
  return node.tagName === "SELECT" ? node.value : node.dataset.kind;
}

function showPanels() {
  const kind = currentKind();
  for (const panel of document.querySelectorAll("#item-form .panel[data-kinds]")) {
    panel.hidden = !panel.dataset.kinds.split(" ").includes(kind);
  }
}

/** The body of the item as the form says (kept as it was for kinds edited in files). */
function buildBody(original) {
  const kind = currentKind();
  const old = original.body || {};
  if (kind === "single" || kind === "multiple") {
    const rows = [...$("option-list").children];
    const picked = rows.filter((row) => row.querySelector(".option-correct").checked).length;
    const share = kind === "multiple" && picked ? 1 / picked : 1;
    const oldById = new Map((old.options || []).map((o) => [o.id, o]));
    const options = rows.map((row, i) => {
      const id = letter(i);
      const correct = row.querySelector(".option-correct").checked;
      const before = oldById.get(row.dataset.id || "");
      const option = { id, text: row.querySelector(".option-text").value.trim() };
      // Keep an explicit fraction (partial credit, penalties) when the flag did not change.
      if (before && (before.fraction > 0) === correct && old.type === kind) option.fraction = before.fraction ?? 0;
      else option.fraction = correct ? share : 0;
      if (before?.feedback) option.feedback = before.feedback;
      if (before?.fixed) option.fixed = true;
      return option;
    });
    const body = { type: kind, options };
    if (kind === "multiple" && old.type === "multiple" && old.scoring) body.scoring = old.scoring;
    return body;
  }
  if (kind === "true_false") {
    const chosen = document.querySelector("input[name=tf-answer]:checked");
    const body = { ...(old.type === "true_false" ? old : {}), type: "true_false" };
    body.answer = chosen ? chosen.value === "true" : null;
    return body;
  }
  if (kind === "fill_blank") {
    const texts = $("item-accepted").value.split("\n").map((s) => s.trim()).filter(Boolean);
    const before = new Map(((old.type === "fill_blank" && old.answers) || []).map((a) => [a.text, a]));
    const body = { ...(old.type === "fill_blank" ? old : {}), type: "fill_blank" };
    body.answers = texts.map((text) => before.get(text) || { text, fraction: 1 });
    return body;
  }
  return old;
}

function buildItem(original) {
  const item = { ...original };
  item.key = $("item-key").value.trim();
  item.stem = $("item-stem").value;
  item.body = buildBody(original);
  item.explanation = $("item-explanation").value;
  item.topic = $("item-topic").value.trim();
  const difficulty = { ...(original.difficulty || {}) };
  const band = $("item-band").value;
  if (band) difficulty.band = Number(band);
  else delete difficulty.band;
  const facility = $("item-facility").value;
  if (facility !== "") difficulty.facility = Number(facility);
  else delete difficulty.facility;
  item.difficulty = difficulty;
  const enemy = $("item-enemy").value.trim();
  item.enemy_group = enemy || null;
  const points = $("item-points").value;
  item.points = points === "" ? 1 : Number(points);
  item.status = $("item-status").value;
  return item;
}

function initEditor() {
  const form = $("item-form");
  const list = $("option-list");
  const status = $("item-status-message");
  const problems = $("item-problems");
  const original = page.item || {};

  showPanels();
  renumber(list);
  if ($("item-kind").tagName === "SELECT") $("item-kind").addEventListener("change", showPanels);
  if (!list.children.length) {
    for (let i = 0; i < 4; i += 1) list.append(optionRow());
    renumber(list);
  }
  $("add-option").addEventListener("click", () => {
    list.append(optionRow());
    renumber(list);
    list.lastElementChild.querySelector(".option-text").focus();
  });
  list.addEventListener("click", (event) => {
    const button = event.target.closest(".option-remove");
    if (!button) return;
    const row = button.closest("li");
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    renumber(list);
    (next?.querySelector(".option-text") || $("add-option")).focus();
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problems.replaceChildren();
    const item = buildItem(original);
    if (!item.key) {
      setNotice(status, t("js.author.need_key"), "error");
      $("item-key").focus();
      return;
    }
    $("save-item").disabled = true;
    setNotice(status, t("js.author.saving"));
    try {
      const url = `/api/banks/${encodeURIComponent(page.bank)}/items/${encodeURIComponent(item.key)}`;
      const info = await api("PUT", url, item);
      setNotice(status, t("js.author.saved", { version: info.version, state: t(`js.author.state.${info.state}`) }), "ok");
      status.dataset.version = String(info.version);
    } catch (error) {
      const found = error instanceof ApiError && Array.isArray(error.problem.errors) ? error.problem.errors : [];
      setNotice(status, found.length ? t("js.author.item_problems") : error.message, "error");
      for (const p of found) {
        const li = document.createElement("li");
        li.append(cell("span", p.code || p.field || "", "code"), document.createTextNode(" " + (say(p) || p.message || "")));
        problems.append(li);
      }
    } finally {
      $("save-item").disabled = false;
    }
  });
}

if ($("upload-form")) initUpload();
if (document.querySelector("[data-action=publish-bank]")) initPublishButtons();
if ($("export-warnings")) initExportLinks();
if ($("item-form")) initEditor();
