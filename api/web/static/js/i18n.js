// The page's UI strings (api/i18n.py, keys "js.*"), from the JSON block the server renders.
const node = document.getElementById("i18n-data");
const messages = node ? JSON.parse(node.textContent || "{}") : {};

export const lang = document.documentElement.lang.startsWith("en") ? "en" : "zh";

/** The message `key` with `{name}` placeholders filled from `values`. */
export function t(key, values = {}) {
  const text = messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** `key.one` when `n` is 1, else `key.other` (English plurals; Chinese has both alike). */
export function tn(key, n, values = {}) {
  return t(`${key}.${n === 1 ? "one" : "other"}`, { ...values, n });
}
