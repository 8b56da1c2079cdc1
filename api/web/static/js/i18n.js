// The page's UI strings (api/i18n.py, keys "js.*"), from the JSON block the server renders,
// and times in the platform's display zone (EXAMENGINE_DISPLAY_TIMEZONE, given on
// <html data-tz data-tz-label>; docs/decisions/0036).
const node = document.getElementById("i18n-data");
const messages = node ? JSON.parse(node.textContent || "{}") : {};
const root = document.documentElement;

export const lang = root.lang.startsWith("en") ? "en" : "zh";

/** The display zone's IANA name (Asia/Shanghai unless the platform says otherwise). */
export const timeZone = root.dataset.tz || "Asia/Shanghai";

/** The zone's label as the server words it: "北京时间", "China Standard Time, UTC+8". */
export function zoneLabel() {
  return root.dataset.tzLabel || timeZone;
}

/** The message `key` with `{name}` placeholders filled from `values`. */
export function t(key, values = {}) {
  const text = messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** `key.one` when `n` is 1, else `key.other` (English plurals; Chinese has both alike). */
export function tn(key, n, values = {}) {
  return t(`${key}.${n === 1 ? "one" : "other"}`, { ...values, n });
}

const parts = new Intl.DateTimeFormat("en-CA", {
  timeZone,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});

/**
 * UTC milliseconds as "2026-12-07 09:00" in the display zone, with its label unless
 * `label: false` ("2026-12-07 09:00（北京时间）", "2026-12-07 09:00 (China Standard Time, UTC+8)");
 * `seconds: true` adds ":SS", `date: false` leaves only the time of day. "" for null.
 */
export function formatTime(ms, { label = true, seconds = false, date = true } = {}) {
  if (ms === null || ms === undefined || Number.isNaN(Number(ms))) return "";
  const p = Object.fromEntries(parts.formatToParts(new Date(Number(ms))).map((x) => [x.type, x.value]));
  let text = `${p.hour}:${p.minute}${seconds ? `:${p.second}` : ""}`;
  if (date) text = `${p.year}-${p.month}-${p.day} ${text}`;
  if (!label) return text;
  return lang === "zh" ? `${text}（${zoneLabel()}）` : `${text} (${zoneLabel()})`;
}
