// Turning the API's values into the words and numbers staff read: codes as
// labels, dates in the browser's locale, money in its currency.

// Money: amounts are integers of minor units; they are turned into text
// and back with string operations only, never floating point.

// formatMinor writes 123450 (two digits) as "1,234.50", with the currency
// code after it when given.
export function formatMinor(minor, digits = 2, currency = "") {
  const neg = minor < 0;
  let s = String(Math.abs(minor));
  if (digits > 0) {
    s = s.padStart(digits + 1, "0");
    s = `${s.slice(0, -digits)}.${s.slice(-digits)}`;
  }
  s = s.replace(/^(\d+)/, (d) => d.replace(/\B(?=(\d{3})+(?!\d))/g, ","));
  return `${neg ? "-" : ""}${s}${currency ? ` ${currency}` : ""}`;
}

// currencyDigits is the number of digits of a currency's minor unit, from
// the browser's ISO 4217 table (accounts carry it as minorUnitDigits).
export function currencyDigits(code) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency: code }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

// toMinor reads "1,234.5" as 123450 (two digits), or null when the text is
// not an amount with at most digits decimals.
export function toMinor(text, digits = 2) {
  const t = text.trim().replace(/,/g, "");
  const m = t.match(digits > 0 ? new RegExp(`^(-?)(\\d+)(?:\\.(\\d{0,${digits}}))?$`) : /^(-?)(\d+)$/);
  if (!m) return null;
  const minor = Number(m[2] + (m[3] || "").padEnd(digits, "0"));
  if (!Number.isSafeInteger(minor)) return null;
  return m[1] ? -minor : minor;
}

const labels = {
  ACTIVE: "Active", ON_HOLD: "On hold", CLOSED: "Closed",
  CHARGE: "Charge", PAYMENT: "Payment", ADJUSTMENT: "Adjustment", REVERSAL: "Reversal",
  WRITE_OFF: "Write-off", REFUND: "Refund", CORRECTION: "Correction",
  CARD: "Card", CASH: "Cash", CHECK: "Check", BANK_TRANSFER: "Bank transfer", INSURANCE: "Insurance",
  female: "Female", male: "Male", other: "Other", unknown: "Unknown",
  admin: "Admin", clinician: "Clinician", billing: "Billing",
  create: "Registered", "create.replay": "Registration repeated", read: "Read", search: "Searched", update: "Updated",
  patch: "Changed", delete: "Deleted", "audit.read": "Audit trail read", import: "Imported",
  success: "Done", invalid: "Invalid", "not-found": "Not found", gone: "Already deleted", "stale-version": "Stale version",
  conflict: "Conflict", forbidden: "Refused", error: "Failed",
  patient: "Patient events", "patient-deadletter": "Patient events", "billing-deadletter": "Billing events",
};

// label is the word staff use for an API code ("BANK_TRANSFER" → "Bank
// transfer"); an unknown code is shown in sentence case.
export function label(code) {
  if (code === undefined || code === null || code === "") return "";
  if (labels[code]) return labels[code];
  const s = String(code).replace(/[_.]/g, " ").toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// formatDate writes a calendar date ("1984-03-09", or the day of a
// timestamp) in the browser's locale, as the day it names (no time zone
// shift).
export function formatDate(value) {
  if (!value) return "";
  const day = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00Z`) : new Date(value);
  if (Number.isNaN(day.getTime())) return String(value);
  const opts = { year: "numeric", month: "short", day: "numeric" };
  return /^\d{4}-\d{2}-\d{2}$/.test(value) ? day.toLocaleDateString(undefined, { ...opts, timeZone: "UTC" }) : day.toLocaleDateString(undefined, opts);
}

// formatTime writes a moment in the browser's locale and time zone.
export function formatTime(value) {
  if (!value) return "";
  const t = new Date(value);
  return Number.isNaN(t.getTime()) ? String(value) : t.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
