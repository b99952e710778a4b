// Drives the staff console in headless Chromium (Debian's, through
// playwright-core) against a running system, as a front-desk admin, a
// clinician and a billing clerk would use it, and saves a screenshot of
// each page.
//
// Environment: GATEWAY (http://127.0.0.1:4004), ADMIN_EMAIL,
// ADMIN_PASSWORD, OUT_DIR (screenshots), CHROMIUM (/usr/bin/chromium),
// PLAYWRIGHT (the playwright-core module, from tools/web), AXE (axe-core's
// axe.min.js, from tools/web).
// Run by tests/e2e (TestStaffConsoleInABrowser); exits non-zero on the
// first check that fails.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const gateway = process.env.GATEWAY;
const adminEmail = process.env.ADMIN_EMAIL;
const adminPassword = process.env.ADMIN_PASSWORD;
const out = process.env.OUT_DIR;
if (!gateway || !adminEmail || !adminPassword || !out || !process.env.AXE) {
  console.error("GATEWAY, ADMIN_EMAIL, ADMIN_PASSWORD, OUT_DIR and AXE must be set");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const { chromium } = await import(process.env.PLAYWRIGHT || "playwright-core");
const axeSource = readFileSync(process.env.AXE, "utf8");

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

// api is a plain API client (not the browser), used to set up records and
// to see what the page really did.
async function api(method, path, token, body, headers = {}) {
  const resp = await fetch(gateway + path, {
    method,
    headers: { ...(body ? { "Content-Type": "application/json" } : {}), ...headers, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await resp.text();
  return { status: resp.status, headers: resp.headers, body: text ? JSON.parse(text) : null };
}
const tokenOf = async (email, password) => (await api("POST", "/auth/login", null, { email, password })).body.accessToken;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
let step = 0;
async function shot(page, name) {
  step++;
  await page.screenshot({ path: join(out, `${String(step).padStart(2, "0")}-${name}.png`), fullPage: true });
}

// A random lower-case word: this run's names are its own.
const letters = (n) => Array.from({ length: n }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join("");

async function login(page, email, password) {
  await page.goto(gateway + "/");
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#nav:not([hidden])", { state: "attached" });
}

async function logout(page) {
  if (!(await page.isVisible("#logout"))) await page.click("#menu");
  await page.click("#logout");
  await page.waitForSelector("#login-form");
}

// settled waits until the page shows its content (a heading, no request
// in flight).
async function settled(page) {
  await page.waitForSelector("main h2");
  await page.waitForFunction(() => !document.querySelector("[aria-busy=true]"));
  await page.waitForTimeout(150);
}

// inspect checks the page at a desktop and a phone width: nothing wider
// than the screen (no sideways scrolling of the page), and no axe-core
// violation of impact serious or critical. A screenshot of each is kept.
const widths = [1280, 390];
const inspected = [];
async function inspect(page, name) {
  for (const width of widths) {
    await page.setViewportSize({ width, height: 900 });
    await settled(page);
    const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
    check(scroll <= inner, `${name} at ${width} px: no horizontal overflow (${scroll} ≤ ${inner})`);
    // evaluate runs over the DevTools protocol: the console's CSP, which
    // forbids injected scripts, stays on.
    await page.evaluate(axeSource);
    const violations = await page.evaluate(async () => (await window.axe.run(document)).violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`));
    check(violations.length === 0, `${name} at ${width} px: no serious accessibility violation${violations.length ? ` (${violations.join("; ")})` : ""}`);
    await shot(page, `${name}-${width}`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  inspected.push(name);
}

// visit opens a console route and inspects it.
async function visit(page, hash, name) {
  await page.goto(`${gateway}/${hash}`);
  await inspect(page, name);
}

const failures = [];
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.on("pageerror", (e) => failures.push(`page error: ${e.message}`));
// Script errors fail the test; the browser's own log of an error status
// (the 400 and 412 this test provokes) does not.
page.on("console", (m) => {
  if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) failures.push(`console error: ${m.text()}`);
});
try {
  // The API reference renders the OpenAPI document with Swagger UI.
  await page.goto(gateway + "/docs");
  await page.waitForSelector(".swagger-ui .opblock", { timeout: 15000 });
  const ops = await page.locator(".swagger-ui .opblock").count();
  check(ops >= 15, `/docs renders the operations of /openapi.yaml with Swagger UI (${ops})`);
  check(await page.locator(".swagger-ui .models, .swagger-ui section.models").count() > 0, "/docs shows the schemas");
  await shot(page, "api-reference");

  // The login page shows no menu, at either width.
  await page.goto(gateway + "/");
  await page.waitForSelector("#login-form");
  for (const width of widths) {
    await page.setViewportSize({ width, height: 900 });
    check(!(await page.isVisible("#nav")) && !(await page.isVisible("#menu")) && !(await page.isVisible("text=Log out")),
      `the login page shows no menu at ${width} px`);
  }
  await inspect(page, "login");

  // The admin logs in; the refresh token never reaches the page.
  await login(page, adminEmail, adminPassword);
  await settled(page);
  const cookies = await page.context().cookies();
  const refresh = cookies.find((c) => c.name === "pms_refresh");
  check(refresh && refresh.httpOnly && refresh.sameSite === "Strict" && refresh.path === "/auth/refresh", "the refresh token is an HttpOnly, SameSite=Strict cookie for /auth/refresh");
  check(!(await page.evaluate(() => document.cookie)).includes("pms_refresh"), "script cannot read the refresh cookie");
  check(await page.evaluate(() => localStorage.length + sessionStorage.length) === 0, "nothing is kept in web storage");
  const token = await tokenOf(adminEmail, adminPassword);

  // Register a patient; a bad field is shown next to it first, tied to
  // its input and focused. The submit is double-clicked: one patient.
  const stamp = Date.now();
  const surname = `Hopper${letters(6)}`;
  const name = `Grace ${surname}`;
  await page.click("text=Register patient");
  await page.waitForSelector("#patient-form");
  check(await page.evaluate(() => document.activeElement?.id) === "f-name", "opening the form puts the cursor in its first field");
  check(await page.locator("#patient-form label .req").count() === 4, "the four required fields are marked");
  await inspect(page, "register");
  await page.fill("#f-name", name);
  await page.fill("#f-email", "not-an-email");
  await page.fill("#f-dateOfBirth", "1906-12-09");
  await page.fill("#f-address", "12 Browser Lane, Springfield");
  await page.click("#patient-form button[type=submit]");
  await page.waitForSelector("#err-f-email:not(:empty)");
  check((await page.textContent("#err-f-email")).length > 0, "the API's field error is shown next to the email field");
  check(await page.getAttribute("#f-email", "aria-invalid") === "true" && (await page.getAttribute("#f-email", "aria-describedby")).includes("err-f-email"),
    "the error is tied to its input (aria-invalid, aria-describedby)");
  check(await page.evaluate(() => document.activeElement?.id) === "f-email", "focus moves to the field in error");
  await inspect(page, "register-field-error");
  await page.fill("#f-email", `console.${stamp}@example.com`);
  await page.dblclick("#patient-form button[type=submit]");
  await page.waitForSelector("#patient-name");
  check((await page.textContent("#patient-name")) === name, "the registered patient's record opens");
  check((await page.textContent("#flash")).includes("is registered"), "with a confirmation");
  const id = page.url().split("#/patients/")[1];
  const registered = await api("GET", `/patients?name=${encodeURIComponent(surname)}`, token);
  check(registered.body.items.length === 1, `a double-clicked Register registers once (${registered.body.items.length})`);
  await inspect(page, "record");

  // Find by surname alone, by surname and date of birth, and a name with
  // letters a keyboard may lack.
  const twin = await api("POST", "/patients", token, { name: `Alan ${surname}`, email: `twin.${stamp}@example.com`, address: "1 Page Street", dateOfBirth: "1950-01-01" });
  const ase = await api("POST", "/patients", token, { name: "Åse Ødegård", email: `ase.${stamp}@example.com`, address: "1 Fjord Road", dateOfBirth: "1970-03-04" });
  check(twin.status === 201 && ase.status === 201, "two more patients are registered through the API");
  await page.goto(gateway + "/#/patients");
  await page.fill("#search-q", surname);
  await page.click("#search-form button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("#patients tbody tr").length === 2);
  check(true, "the surname alone finds both patients with it");
  await inspect(page, "search-surname");
  await page.fill("#search-dob", "1906-12-09");
  await page.click("#search-form button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("#patients tbody tr").length === 1);
  check(await page.locator(`#patients a[href="#/patients/${id}"]`).count() === 1, "the surname with the date of birth finds the one patient");
  await page.fill("#search-dob", "");
  await page.fill("#search-q", "odegard");
  await page.click("#search-form button[type=submit]");
  await page.waitForSelector(`#patients a[href="#/patients/${ase.body.id}"]`);
  check(true, "'odegard' finds Åse Ødegård");

  // Page through a longer list: the second page holds other patients.
  for (let i = 0; i < 21; i++) {
    const r = await api("POST", "/patients", token, { name: `Paging Patient ${stamp} ${i}`, email: `paging.${stamp}.${i}@example.com`,
      address: "1 Page Street", dateOfBirth: "1990-01-01" });
    if (r.status !== 201) throw new Error(`register for paging: ${r.status}`);
  }
  await page.fill("#search-q", `Paging Patient ${stamp}`);
  await page.click("#search-form button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("#patients tbody tr").length === 20);
  const first = await page.locator("#patients tbody tr td:first-child").allTextContents();
  await page.click("text=Next page");
  await page.waitForFunction(() => document.querySelectorAll("#patients tbody tr").length === 1);
  const second = await page.locator("#patients tbody tr td:first-child").allTextContents();
  check(first.length === 20 && second.length === 1 && !first.includes(second[0]), `paging: 20 on the first page, the 21st on the next (${first.length}, ${second.length})`);
  await visit(page, "#/patients", "patients");

  // Edit them; Save double-clicked saves once (one new version).
  await page.goto(`${gateway}/#/patients/${id}`);
  await page.click("#edit");
  await page.waitForSelector("#patient-form");
  await inspect(page, "edit");
  const before = (await api("GET", `/patients/${id}`, token)).body.version;
  await page.fill("#f-phone", "+1 555 0100");
  await page.dblclick("#patient-form button[type=submit]");
  await page.waitForSelector("#patient-name");
  check((await page.textContent("dl.record")).includes("+1 555 0100"), "the edit is saved");
  const after = (await api("GET", `/patients/${id}`, token)).body.version;
  check(after === before + 1, `a double-clicked Save saves once (version ${before} → ${after})`);

  // A change underneath: the save answers 412, shown as such.
  await page.click("#edit");
  await page.waitForSelector("#patient-form");
  const current = await api("GET", `/patients/${id}`, token);
  const changed = await api("PATCH", `/patients/${id}`, token, { phone: "+1 555 0199" },
    { "If-Match": current.headers.get("ETag"), "Content-Type": "application/merge-patch+json" });
  check(changed.status === 200, `the record changes underneath the open form (${changed.status})`);
  await page.fill("#f-address", "13 Browser Lane, Springfield");
  await page.click("#patient-form button[type=submit]");
  await page.waitForSelector("#conflict");
  check((await page.textContent("#conflict")).includes("changed by someone else"), "the 412 is shown as 'changed by someone else — reload'");
  await shot(page, "conflict");

  // The audit trail, as admin: actors by email, newest first, filtered by
  // action.
  await page.goto(`${gateway}/#/patients/${id}/audit`);
  await page.waitForSelector("#audit-trail tbody tr");
  const actions = await page.locator("#audit-trail tbody tr td:nth-child(2)").allTextContents();
  check(actions.includes("Registered") && actions.includes("Updated"), `the audit trail lists the registration and the update (${actions.join(", ")})`);
  const actors = await page.locator("#audit-trail tbody tr td:nth-child(3)").allTextContents();
  check(actors.includes(adminEmail), `actors are shown by email (${[...new Set(actors)].join(", ")})`);
  await page.selectOption("#audit-action", "update");
  await page.waitForFunction(() => [...document.querySelectorAll("#audit-trail tbody tr td:nth-child(2)")].every((td) => td.textContent === "Updated"));
  check(true, "the audit trail filters by action");
  await inspect(page, "audit");

  // Paged by patient-service, 20 to a page: 25 more reads make two pages
  // of reads, walked older and back newer.
  for (let i = 0; i < 25; i++) await api("GET", `/patients/${id}`, token);
  await page.selectOption("#audit-action", "read");
  await page.waitForFunction(() => document.querySelectorAll("#audit-trail tbody tr").length === 20);
  const firstPage = await page.locator("#audit-trail tbody tr td:nth-child(1)").allTextContents();
  await page.click("#audit-next");
  await page.waitForFunction(() => /Page 2/.test(document.querySelector("#audit-page")?.textContent || ""));
  const older = await page.locator("#audit-trail tbody tr").count();
  check(older >= 5 && older <= 20, `the second page holds the older reads (${older})`);
  await page.click("text=Newer entries");
  await page.waitForFunction(() => /Page 1/.test(document.querySelector("#audit-page")?.textContent || ""));
  const again = await page.locator("#audit-trail tbody tr td:nth-child(1)").allTextContents();
  check(JSON.stringify(again) === JSON.stringify(firstPage), "Newer entries goes back to the first page");

  // The analytics page draws the figures as charts; the dead letters page
  // says there are none.
  await page.click("text=Analytics");
  await page.waitForSelector("#chart-per-day svg rect.bar");
  check(await page.locator("#analytics svg rect.bar").count() >= 1, "analytics draws bar charts");
  await inspect(page, "analytics");
  await visit(page, "#/dead-letters", "dead-letters");
  check(await page.locator("#dl-empty, #dead-letters").count() === 1, "the dead letters page lists what waits, or says nothing does");

  // Create a clinician (Create double-clicked: one user, no error).
  const clinician = `clinician.${stamp}@example.com`;
  const clinicianPassword = `a long clinician password ${stamp}`;
  await page.click("text=Users");
  await page.waitForSelector("#user-form");
  await inspect(page, "users");
  await page.fill("#u-email", clinician);
  await page.fill("#u-password", clinicianPassword);
  await page.selectOption("#u-role", "clinician");
  await page.dblclick("#user-form button[type=submit]");
  await page.waitForSelector(`#users td:text-is("${clinician}")`);
  check((await page.textContent("#flash")).includes(clinician), "the admin creates a clinician, confirmed");
  const users = (await api("GET", "/auth/users", token)).body.items.filter((u) => u.email === clinician);
  check(users.length === 1 && await page.locator(".banner.error").count() === 0, "a double-clicked Create user creates one user and shows no error");
  // A role change is saved at once (and back again).
  await page.selectOption(`select[aria-label="Role of ${clinician}"]`, "billing");
  await page.waitForSelector("text=Saved");
  const roleOf = async () => (await api("GET", "/auth/users", token)).body.items.find((u) => u.email === clinician)?.role;
  check(await roleOf() === "billing", "the admin changes a user's role");
  await page.selectOption(`select[aria-label="Role of ${clinician}"]`, "clinician");
  for (let i = 0; i < 50 && await roleOf() !== "clinician"; i++) await page.waitForTimeout(100);
  check(await roleOf() === "clinician", "and back");

  // Log out: the session ends and the cookie is gone.
  await logout(page);
  check(!(await page.context().cookies()).some((c) => c.name === "pms_refresh"), "logging out clears the refresh cookie");

  // The clinician sees no delete button and no admin pages.
  await login(page, clinician, clinicianPassword);
  await page.goto(`${gateway}/#/patients/${id}`);
  await page.waitForSelector("#patient-name");
  check(await page.locator("#delete").count() === 0, "a clinician is offered no delete button");
  check(await page.locator("#audit").count() === 0, "nor the audit trail");
  check(await page.locator("#edit").count() === 1, "but can edit");
  check(!(await page.isVisible('nav a[data-nav="users"]')) && !(await page.isVisible('nav a[data-nav="analytics"]')), "nor the admin pages");
  await inspect(page, "clinician-record");
  await visit(page, "#/patients", "clinician-patients");
  await visit(page, "#/patients/new", "clinician-register");
  await visit(page, `#/patients/${id}/edit`, "clinician-edit");
  await visit(page, "#/users", "clinician-users-denied");
  check((await page.textContent("main")).includes("not part of your role"), "an admin page says it is not for a clinician");

  // A reload keeps the session through the refresh cookie.
  await page.goto(`${gateway}/#/patients/${id}`);
  await page.reload();
  await page.waitForSelector("#patient-name");
  check(true, "a reload stays logged in");
  // The clinician's view of the account: a charge form, no ledger, and no
  // stray text where the ledger would be.
  await page.click("#billing-account");
  await page.waitForSelector("#balance");
  check(!(await page.textContent("main")).includes("null"), "the clinician's account view shows no 'null'");
  await inspect(page, "clinician-account");

  // A billing clerk opens the patient's account from the record, posts a
  // charge (a bad field first, shown beside it), a payment and an
  // adjustment, each double-clicked, reverses the payment, and prints a
  // statement.
  const clerk = `billing.${stamp}@example.com`;
  const clerkPassword = `a long billing password ${stamp}`;
  const made = await api("POST", "/auth/users", token, { email: clerk, password: clerkPassword, role: "billing" });
  check(made.status === 201, `the admin creates a billing clerk (${made.status})`);
  await logout(page);
  await login(page, clerk, clerkPassword);
  const clerkToken = await tokenOf(clerk, clerkPassword);
  check(await page.isVisible('nav a[data-nav="billing"]'), "a billing clerk has the Billing page");
  await visit(page, "#/patients/new", "billing-register-denied");
  check((await page.textContent("main")).includes("not part of your role"), "a billing clerk opening the registration is told it is not for them");
  await page.goto(`${gateway}/#/patients/${id}`);
  await page.waitForSelector("#billing-account");
  check(await page.locator("#edit").count() === 0, "a billing clerk is offered no patient edit");
  await page.click("#billing-account");
  await page.waitForSelector("#balance");
  const accountId = new URL(page.url()).hash.split("/")[2];
  const entries = async () => (await api("GET", `/billing/accounts/${accountId}`, clerkToken)).body.entryCount;
  check((await page.textContent("#account-patient")) === name, "the account names the patient, read from patient-service");
  check((await page.textContent("#balance")) === "0.00 USD", `a new account's balance is 0.00 USD (${await page.textContent("#balance")})`);
  await inspect(page, "billing-account-new");
  await page.click("#show-charge");
  check(await page.evaluate(() => document.activeElement?.id) === "c-serviceDate", "opening the charge form puts the cursor in it");
  await page.fill("#c-code", "99213");
  await page.fill("#c-quantity", "2");
  await page.fill("#c-unitPrice", "75.50");
  await page.click("#charge-form button[type=submit]");
  await page.waitForSelector("#err-c-description:not(:empty)");
  check((await page.textContent("#err-c-description")).length > 0, "a missing description is shown beside its field");
  await page.fill("#c-unitPrice", "75.505");
  await page.fill("#c-description", "Office visit");
  await page.click("#charge-form button[type=submit]");
  await page.waitForSelector("#err-c-unitPrice:not(:empty)");
  check(true, "a price with more decimals than the currency has is refused beside the field");
  await page.fill("#c-unitPrice", "-5");
  await page.click("#charge-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#err-c-unitPrice")?.textContent.includes("greater than 0.00"));
  check(true, `a negative price is refused in staff words (${await page.textContent("#err-c-unitPrice")})`);
  await inspect(page, "billing-field-error");
  await page.fill("#c-unitPrice", "75.50");
  await page.dblclick("#charge-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#balance")?.textContent === "151.00 USD");
  check(await entries() === 1, "a double-clicked Post charge posts once: 2 × 75.50 = 151.00 USD");
  check((await page.textContent("#flash")).includes("Charge posted"), "with a confirmation");
  await page.click("#show-payment");
  await page.fill("#p-amount", "51");
  await page.selectOption("#p-method", "CASH");
  await page.dblclick("#payment-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#balance")?.textContent === "100.00 USD");
  check(await entries() === 2, "a double-clicked Post payment posts once: 100.00 USD left");
  check((await page.textContent("#flash")).includes("Payment posted: 51.00 USD"), "the confirmation names the payment in the account's currency");
  await page.click("#show-adjustment");
  await page.selectOption("#a-type", "WRITE_OFF");
  await page.fill("#a-amount", "10");
  await page.fill("#a-reason", "Courtesy discount");
  await page.dblclick("#adjustment-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#balance")?.textContent === "90.00 USD");
  check(await entries() === 3, "a double-clicked Post adjustment posts once: 90.00 USD left");
  const kinds = await page.locator("#ledger tbody tr td:nth-child(3)").allTextContents();
  check(kinds.join(",") === "Adjustment,Payment,Charge", `the ledger lists the postings newest first, in words (${kinds})`);
  check((await page.locator("#ledger tbody tr td.num").allTextContents()).every((t) => t.endsWith(" USD")), "every ledger amount names its currency");
  // Reverse the payment (a mistaken posting): it comes back on the balance.
  const paymentRow = page.locator("#ledger tbody tr", { hasText: "Payment" });
  await paymentRow.getByRole("button", { name: /Reverse/ }).click();
  await page.waitForSelector("#reversal-form");
  check(await page.evaluate(() => document.activeElement?.id) === "r-reason", "the reversal asks for a reason, with the cursor in it");
  await page.fill("#r-reason", "Posted twice by mistake");
  await page.dblclick("#reversal-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#balance")?.textContent === "141.00 USD");
  check(await entries() === 4, "a double-clicked Reverse entry reverses once: the 51.00 payment is back on the balance");
  check(await page.locator("#ledger tbody tr.reversed").count() === 1, "the reversed payment is struck through");
  await inspect(page, "billing-account");
  const viaApi = await api("GET", `/billing/accounts/${accountId}`, clerkToken);
  check(viaApi.body.balanceMinor === 14100, `the API agrees: 14100 minor units (${viaApi.body.balanceMinor})`);

  // The statement period is checked beside its field.
  await page.fill("#s-from", "2026-12-31");
  await page.fill("#s-to", "2026-01-01");
  await page.click("#statement-form button[type=submit]");
  await page.waitForSelector("#err-s-to:not(:empty)");
  check(new URL(page.url()).hash === `#/billing/${accountId}`, "a period that ends before it starts is refused beside the field, on the account page");
  const today = new Date().toISOString().slice(0, 10);
  await page.fill("#s-from", today.slice(0, 8) + "01");
  await page.fill("#s-to", today);
  await page.click("#statement-form button[type=submit]");
  await page.waitForSelector("#statement");
  check((await page.textContent("#statement-patient")) === name, "the statement names the patient");
  check((await page.textContent("#opening")) === "0.00 USD" && (await page.textContent("#closing")) === "141.00 USD",
    "the statement opens at 0.00 and closes at 141.00 USD");
  check(!(await page.textContent("#payments-received")).startsWith("-"), `payments received read as a positive amount (${await page.textContent("#payments-received")})`);
  check(await page.locator("#statement-entries tbody tr").count() === 4, "with every entry");
  await inspect(page, "statement");
  await page.emulateMedia({ media: "print" });
  check(!(await page.isVisible("header")) && !(await page.isVisible("#print")), "printed, the statement has no navigation or buttons");
  const pdf = await page.pdf({ path: join(out, "statement.pdf"), format: "A4" });
  check(pdf.length > 1000, `the statement prints (${pdf.length} bytes of PDF)`);
  await page.emulateMedia({ media: "screen" });

  // The billing list names each account's patient and MRN, and finds an
  // account by the patient's surname, MRN or its number.
  await visit(page, "#/billing", "billing-list");
  check(await page.locator("#accounts tbody tr").count() >= 1, "the billing list shows accounts");
  for (const [what, text] of [["surname", surname], ["MRN", registered.body.items[0].mrn], ["account number", accountId]]) {
    await page.fill("#accounts-q", text);
    await page.click("#accounts-search button[type=submit]");
    await page.waitForFunction((acct) => !!document.querySelector(`#accounts a[href="#/billing/${acct}"]`), accountId);
    const row = await page.locator("#accounts tbody tr", { has: page.locator(`a[href="#/billing/${accountId}"]`) }).first().textContent();
    check(row.includes(name) && row.includes(registered.body.items[0].mrn) && row.includes("141.00 USD"),
      `the billing list finds the account by ${what}, with the patient's name, MRN and balance`);
  }
  await inspect(page, "billing-search");
  await visit(page, `#/patients/${id}`, "billing-record");

  // The admin walks the billing pages too, then deletes the record (after
  // confirming); it is gone (410).
  await logout(page);
  await login(page, adminEmail, adminPassword);
  await visit(page, "#/billing", "admin-billing-list");
  await visit(page, `#/billing/${accountId}`, "admin-billing-account");
  await page.goto(`${gateway}/#/patients/${id}`);
  await page.waitForSelector("#delete");
  page.once("dialog", (d) => d.accept());
  await page.click("#delete");
  await page.waitForURL((u) => u.hash === "#/patients");
  const gone = await api("GET", `/patients/${id}`, token);
  check(gone.status === 410, `the admin deletes the record (then ${gone.status})`);

  // The analytics page counts the clerk's charge and payment (events reach
  // analytics a moment after the postings).
  let billed = false;
  for (let i = 0; i < 40 && !billed; i++) {
    await page.goto(`${gateway}/#/analytics`);
    await page.waitForSelector("#analytics");
    billed = await page.locator("#chart-charges rect.bar").count() >= 1 && await page.locator("#chart-payments rect.bar").count() >= 1
      && await page.locator("#outstanding .total").count() >= 1;
    if (!billed) await page.waitForTimeout(500);
  }
  check(billed, "analytics draws charges and payments per day and the outstanding total");
  await shot(page, "billing-analytics");

  console.log(`inspected at ${widths.join(" and ")} px: ${inspected.join(", ")}`);
  check(failures.length === 0, `no script errors (${failures.join("; ")})`);
} catch (e) {
  await shot(page, "failure").catch(() => {});
  console.error(e.message);
  if (failures.length) console.error(failures.join("\n"));
  process.exitCode = 1;
} finally {
  await browser.close();
}
