// The exam spec builder: the form is the spec; every change is checked against the chosen
// bank version (POST /api/exams/validate, debounced) and the problems are listed live.
// Save makes a draft version (POST /api/exams); publish fixes it.
import { ApiError, api } from "./api.js";
import { lang, t, tn } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const page = JSON.parse($("page-data").textContent || "{}");
const original = page.spec || {};
const banks = page.banks || [];
const DEBOUNCE_MS = 350;

/** Topic → {kind: active items} of the chosen bank version (the supply hints). */
let supply = new Map();
let checkSeq = 0;
let timer = 0;
let sectionSeq = 0;

const say = (p) => (lang === "zh" ? p.message_zh : p.message) || p.message || "";

function setNotice(node, text, kind = "") {
  node.className = "notice" + (kind ? ` notice--${kind}` : "");
  node.textContent = text;
}

function option(value, text, selected) {
  const node = document.createElement("option");
  node.value = String(value);
  node.textContent = text;
  node.selected = selected;
  return node;
}

// --------------------------------------------------------------------- banks, topics

function fillBanks() {
  const select = $("spec-bank");
  select.replaceChildren();
  const names = banks.map((b) => b.bank);
  if (original.bank && !names.includes(original.bank)) names.unshift(original.bank);
  for (const name of names) {
    const node = option(name, name, name === original.bank);
    node.dataset.content = ""; // a bank's name is content, in whatever language it was written
    select.append(node);
  }
  fillVersions(original.bank_version);
}

function fillVersions(wanted) {
  const select = $("spec-bank-version");
  const bank = banks.find((b) => b.bank === $("spec-bank").value);
  select.replaceChildren();
  const versions = bank ? bank.versions : [{ version: wanted || 1, state: "", items: 0 }];
  for (const v of versions) {
    const state = v.state ? t(`js.author.state.${v.state}`) : "";
    const items = tn("js.spec.n_items", v.items);
    select.append(option(v.version, t("js.spec.version_option", { version: v.version, state, items }), v.version === wanted));
  }
}

async function loadTopics() {
  const bank = $("spec-bank").value;
  const version = $("spec-bank-version").value;
  supply = new Map();
  if (bank && version) {
    try {
      const reply = await api("GET", `/author/banks/${encodeURIComponent(bank)}/versions/${version}/topics`);
      for (const entry of reply.topics) supply.set(entry.topic, entry.kinds);
    } catch {
      // The live check names a missing bank or version; the hints just stay empty.
    }
  }
  for (const panel of $("sections").children) renderTopics(panel);
}

function available(kind, topics) {
  let n = 0;
  for (const [topic, kinds] of supply) {
    if (topics.length && !topics.includes(topic)) continue;
    for (const [k, count] of Object.entries(kinds)) if (!kind || k === kind) n += count;
  }
  return n;
}

function renderTopics(panel) {
  const list = panel.querySelector(".topic-list");
  const chosen = new Set(panel._topics || []);
  list.replaceChildren();
  const names = [...new Set([...supply.keys(), ...chosen])].sort();
  if (!names.length) list.append(Object.assign(document.createElement("p"), { className: "hint", textContent: t("js.spec.no_topics") }));
  for (const name of names) {
    const label = document.createElement("label");
    label.className = "inline-check";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = name;
    box.checked = chosen.has(name);
    box.addEventListener("change", () => {
      panel._topics = [...list.querySelectorAll("input:checked")].map((b) => b.value);
      updateSupply(panel);
      schedule();
    });
    const text = document.createElement("span");
    text.textContent = name || "—";
    if (name) text.dataset.content = "";
    label.append(box, document.createTextNode(" "), text);
    list.append(label);
  }
  updateSupply(panel);
}

function updateSupply(panel) {
  const kind = panel.querySelector("[data-field=kind]").value;
  panel.querySelector(".supply").textContent = t("js.spec.supply", { n: available(kind, panel._topics || []) });
}

// -------------------------------------------------------------------------- sections

function renumberSections() {
  [...$("sections").children].forEach((panel, i) => {
    const n = i + 1;
    panel.dataset.section = String(n);
    panel.querySelector(".section-legend").textContent = t("js.spec.section_n", { n });
    const remove = panel.querySelector(".remove-section");
    remove.textContent = t("js.spec.remove_section", { n });
    remove.disabled = $("sections").children.length === 1;
  });
}

function addSection(section) {
  const panel = $("section-template").content.firstElementChild.cloneNode(true);
  sectionSeq += 1;
  for (const label of panel.querySelectorAll("label[data-for]")) {
    const input = label.parentElement.querySelector(`[data-field=${label.dataset.for}]`);
    input.id = `s${sectionSeq}-${label.dataset.for}`;
    label.htmlFor = input.id;
    const hint = label.parentElement.querySelector(".hint");
    if (hint) {
      hint.id = `${input.id}-hint`;
      input.setAttribute("aria-describedby", hint.id);
    }
  }
  const field = (name) => panel.querySelector(`[data-field=${name}]`);
  field("title").value = section.title || "";
  field("kind").value = section.kind || "";
  field("count").value = section.count ?? "";
  field("points").value = section.points ?? "";
  panel._topics = [...(section.topics || [])];
  panel._cells = section.cells || [];
  panel.addEventListener("input", () => {
    updateSupply(panel);
    schedule();
  });
  panel.querySelector(".remove-section").addEventListener("click", () => {
    const next = panel.nextElementSibling || panel.previousElementSibling;
    panel.remove();
    renumberSections();
    next?.querySelector("input")?.focus();
    schedule();
  });
  $("sections").append(panel);
  renderTopics(panel);
  renumberSections();
  return panel;
}

// ------------------------------------------------------------------------------ spec

const number = (id) => ($(id).value === "" ? null : Number($(id).value));

/** The spec as the form says; fields the form does not show are kept as they were. */
export function buildSpec() {
  const spec = { ...original };
  spec.key = $("spec-key").value.trim();
  spec.title = $("spec-title").value.trim();
  spec.bank = $("spec-bank").value;
  spec.bank_version = number("spec-bank-version");
  const minutes = number("spec-duration");
  spec.duration_s = minutes === null ? null : Math.round(minutes * 60);
  spec.max_attempts = number("spec-attempts");
  const pass = number("spec-pass");
  spec.pass_mark = pass === null ? null : pass / 100;
  const rMax = number("spec-rmax");
  spec.r_max = rMax === null ? null : rMax / 100;
  spec.expiry = $("spec-expiry").value;
  spec.sections = [...$("sections").children].map((panel) => {
    const value = (name) => panel.querySelector(`[data-field=${name}]`).value;
    const section = { title: value("title"), count: value("count") === "" ? null : Number(value("count")) };
    if (value("kind")) section.kind = value("kind");
    if (value("points") !== "") section.points = Number(value("points"));
    if (panel._topics.length) section.topics = panel._topics;
    if (panel._cells.length) section.cells = panel._cells;
    return section;
  });
  return spec;
}

function whereText(where) {
  const match = /^section (\d+)/.exec(where || "");
  return match ? t("js.spec.section_n", { n: match[1] }) : where || "";
}

function showProblems(problems) {
  const list = $("spec-problems");
  list.replaceChildren();
  for (const panel of $("sections").children) panel.classList.remove("has-problem");
  for (const p of problems) {
    const li = document.createElement("li");
    li.className = `problem problem--${p.severity || "error"}`;
    const badge = document.createElement("span");
    badge.className = `badge ${p.severity === "warning" ? "badge--warn" : "badge--error"}`;
    badge.textContent = t(p.severity === "warning" ? "js.spec.warning" : "js.spec.error");
    const where = document.createElement("strong");
    where.textContent = " " + t("js.spec.where", { where: whereText(p.where) });
    li.append(badge, where, document.createTextNode(say(p)));
    list.append(li);
    const match = /^section (\d+)/.exec(p.where || "");
    if (match && p.severity !== "warning") {
      $("sections").children[Number(match[1]) - 1]?.classList.add("has-problem");
    }
  }
}

/** "Papers can be built: 2 items and 10 points per paper." — the paper's total, never
 * mistaken for one item's points. */
export function summary(spec) {
  const n = spec.sections.reduce((sum, s) => sum + (s.count || 0), 0);
  const items = tn("js.spec.n_items", n);
  if (spec.sections.every((s) => s.points)) {
    const points = Number(spec.sections.reduce((sum, s) => sum + s.count * s.points, 0).toFixed(2));
    return t("js.spec.ok", { items, points: tn("js.spec.n_points", points) });
  }
  return t("js.spec.ok_own_points", { items });
}

async function check() {
  const seq = ++checkSeq;
  const spec = buildSpec();
  const status = $("check-status");
  setNotice(status, t("js.spec.checking"));
  try {
    const outcome = await api("POST", "/api/exams/validate", spec);
    if (seq !== checkSeq) return; // a newer check is on its way
    showProblems(outcome.problems);
    if (outcome.ok) setNotice(status, summary(spec), "ok");
    else setNotice(status, tn("js.spec.has_errors", outcome.problems.filter((p) => p.severity !== "warning").length), "error");
    $("spec-form").dataset.checked = outcome.ok ? "ok" : "problems";
  } catch (error) {
    if (seq === checkSeq) setNotice(status, error.message, "error");
  }
}

function schedule() {
  window.clearTimeout(timer);
  $("spec-form").dataset.checked = "pending";
  timer = window.setTimeout(check, DEBOUNCE_MS);
}

// ------------------------------------------------------------------- save, publish

async function save(event) {
  event.preventDefault();
  const status = $("save-status");
  const spec = buildSpec();
  $("save-spec").disabled = true;
  setNotice(status, t("js.spec.saving"));
  try {
    const outcome = await api("POST", "/api/exams", spec);
    const v = outcome.version;
    const text = outcome.unchanged
      ? t("js.spec.unchanged", { version: v.version })
      : t("js.spec.saved", { version: v.version, state: t(`js.author.state.${v.state}`) });
    setNotice(status, text, "ok");
    status.dataset.version = String(v.version);
    if (outcome.warnings?.length) showProblems(outcome.warnings);
    const publish = $("publish-spec");
    publish.dataset.version = String(v.version);
    publish.disabled = v.state !== "draft";
    const sample = $("sample-link");
    sample.href = `/author/exams/${encodeURIComponent(v.exam)}/sample`;
    sample.hidden = false;
    if (page.new) {
      $("spec-key").readOnly = true;
      original.key = v.exam;
      window.history.replaceState(null, "", `/author/exams/${encodeURIComponent(v.exam)}/edit`);
    }
  } catch (error) {
    const found = error instanceof ApiError && Array.isArray(error.problem.errors) ? error.problem.errors : [];
    setNotice(status, found.length ? `${t("js.spec.not_saved")}${error.message}` : error.message, "error");
    if (found.length && found[0].message_zh !== undefined) showProblems(found);
  } finally {
    $("save-spec").disabled = false;
  }
}

async function publish() {
  const button = $("publish-spec");
  const version = button.dataset.version;
  if (!version || !window.confirm(t("js.spec.confirm_publish", { version }))) return;
  const status = $("save-status");
  button.disabled = true;
  try {
    const key = $("spec-key").value.trim();
    await api("POST", `/api/exams/${encodeURIComponent(key)}/versions/${version}/publish`);
    setNotice(status, t("js.spec.published", { version }), "ok");
  } catch (error) {
    button.disabled = false;
    setNotice(status, error.message, "error");
  }
}

// ------------------------------------------------------------------------------ start

fillBanks();
for (const section of original.sections || []) addSection(section);
if (!$("sections").children.length) addSection({ title: "", count: 1 });
$("add-section").addEventListener("click", () => {
  const panel = addSection({ title: "", count: 1 });
  panel.querySelector("input").focus();
  schedule();
});
$("spec-bank").addEventListener("change", () => {
  fillVersions();
  loadTopics();
});
$("spec-bank-version").addEventListener("change", loadTopics);
for (const id of ["spec-key", "spec-title", "spec-bank", "spec-bank-version", "spec-duration", "spec-attempts", "spec-pass", "spec-rmax", "spec-expiry"]) {
  $(id).addEventListener("input", schedule);
  $(id).addEventListener("change", schedule);
}
$("spec-form").addEventListener("submit", save);
$("publish-spec").addEventListener("click", publish);
loadTopics();
check();
