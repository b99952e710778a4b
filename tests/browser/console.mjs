// Drives the staff console in headless Chromium (Debian's, through
// playwright-core) against a running system, as a front-desk admin and a
// clinician would use it, and saves a screenshot of each page.
//
// Environment: GATEWAY (http://127.0.0.1:4004), ADMIN_EMAIL,
// ADMIN_PASSWORD, OUT_DIR (screenshots), CHROMIUM (/usr/bin/chromium),
// PLAYWRIGHT (the playwright-core module, from tools/web).
// Run by tests/e2e (TestStaffConsoleInABrowser); exits non-zero on the
// first check that fails.
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const gateway = process.env.GATEWAY;
const adminEmail = process.env.ADMIN_EMAIL;
const adminPassword = process.env.ADMIN_PASSWORD;
const out = process.env.OUT_DIR;
if (!gateway || !adminEmail || !adminPassword || !out) {
  console.error("GATEWAY, ADMIN_EMAIL, ADMIN_PASSWORD and OUT_DIR must be set");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const { chromium } = await import(process.env.PLAYWRIGHT || "playwright-core");

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

// api is a plain API client (not the browser), used to change a record
// underneath the page.
async function api(method, path, token, body, headers = {}) {
  const resp = await fetch(gateway + path, {
    method,
    headers: { ...(body ? { "Content-Type": "application/json" } : {}), ...headers, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await resp.text();
  return { status: resp.status, headers: resp.headers, body: text ? JSON.parse(text) : null };
}

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

async function login(page, email, password) {
  await page.goto(gateway + "/");
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#nav:not([hidden])");
}

const failures = [];
const page = await (await browser.newContext()).newPage();
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

  // The admin logs in; the refresh token never reaches the page.
  await login(page, adminEmail, adminPassword);
  await shot(page, "patients");
  const cookies = await page.context().cookies();
  const refresh = cookies.find((c) => c.name === "pms_refresh");
  check(refresh && refresh.httpOnly && refresh.sameSite === "Strict" && refresh.path === "/auth/refresh", "the refresh token is an HttpOnly, SameSite=Strict cookie for /auth/refresh");
  check(!(await page.evaluate(() => document.cookie)).includes("pms_refresh"), "script cannot read the refresh cookie");
  check(await page.evaluate(() => localStorage.length + sessionStorage.length) === 0, "nothing is kept in web storage");

  // Register a patient; a bad field is shown next to it first.
  const stamp = Date.now();
  const name = `Console Patient ${stamp}`;
  await page.click("text=Register patient");
  await page.fill("#f-name", name);
  await page.fill("#f-email", "not-an-email");
  await page.fill("#f-dateOfBirth", "1984-03-09");
  await page.fill("#f-address", "12 Browser Lane, Springfield");
  await page.click("#patient-form button[type=submit]");
  await page.waitForSelector("#err-f-email:not(:empty)");
  check((await page.textContent("#err-f-email")).length > 0, "the API's field error is shown next to the email field");
  await shot(page, "register-field-error");
  await page.fill("#f-email", `console.${stamp}@example.com`);
  await page.click("#patient-form button[type=submit]");
  await page.waitForSelector("#patient-name");
  check((await page.textContent("#patient-name")) === name, "the registered patient's record opens");
  const id = page.url().split("#/patients/")[1];
  await shot(page, "record");

  // Find them by name.
  await page.goto(gateway + "/#/patients");
  await page.fill("#search-form input[name=q]", `Console Patient ${stamp}`);
  await page.click("#search-form button[type=submit]");
  await page.waitForSelector(`#patients a[href="#/patients/${id}"]`);
  check(true, "the search by name finds the patient");
  await shot(page, "search");

  // Page through a longer list: the second page holds other patients.
  const token = (await api("POST", "/auth/login", null, { email: adminEmail, password: adminPassword })).body.accessToken;
  for (let i = 0; i < 21; i++) {
    const r = await api("POST", "/patients", token, { name: `Paging Patient ${stamp} ${i}`, email: `paging.${stamp}.${i}@example.com`,
      address: "1 Page Street", dateOfBirth: "1990-01-01" });
    if (r.status !== 201) throw new Error(`register for paging: ${r.status}`);
  }
  await page.fill("#search-form input[name=q]", `Paging Patient ${stamp}`);
  await page.click("#search-form button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("#patients tbody tr").length === 20);
  const first = await page.locator("#patients tbody tr td:first-child").allTextContents();
  await page.click("text=Next page");
  await page.waitForFunction(() => document.querySelectorAll("#patients tbody tr").length === 1);
  const second = await page.locator("#patients tbody tr td:first-child").allTextContents();
  check(first.length === 20 && second.length === 1 && !first.includes(second[0]), `paging: 20 on the first page, the 21st on the next (${first.length}, ${second.length})`);

  // Edit them.
  await page.goto(`${gateway}/#/patients?q=${encodeURIComponent(name)}`);
  await page.waitForSelector(`#patients a[href="#/patients/${id}"]`);
  await page.click(`#patients a[href="#/patients/${id}"]`);
  await page.click("#edit");
  await page.fill("#f-phone", "+1 555 0100");
  await page.click("#patient-form button[type=submit]");
  await page.waitForSelector("#patient-name");
  check((await page.textContent("dl.record")).includes("+1 555 0100"), "the edit is saved");

  // A change underneath: the save answers 412, shown as such.
  await page.click("#edit");
  await page.waitForSelector("#patient-form");
  const admin = await api("POST", "/auth/login", null, { email: adminEmail, password: adminPassword });
  const current = await api("GET", `/patients/${id}`, admin.body.accessToken);
  const changed = await api("PATCH", `/patients/${id}`, admin.body.accessToken, { phone: "+1 555 0199" },
    { "If-Match": current.headers.get("ETag"), "Content-Type": "application/merge-patch+json" });
  check(changed.status === 200, `the record changes underneath the open form (${changed.status})`);
  await page.fill("#f-address", "13 Browser Lane, Springfield");
  await page.click("#patient-form button[type=submit]");
  await page.waitForSelector("#conflict");
  check((await page.textContent("#conflict")).includes("changed by someone else"), "the 412 is shown as 'changed by someone else — reload'");
  await shot(page, "conflict");

  // The audit trail, as admin.
  await page.goto(`${gateway}/#/patients/${id}/audit`);
  await page.waitForSelector("#audit-trail tbody tr");
  const actions = await page.locator("#audit-trail tbody tr td:nth-child(2)").allTextContents();
  check(actions.includes("create") && actions.includes("update"), `the audit trail lists the create and the update (${actions.join(", ")})`);
  await shot(page, "audit");

  // The analytics page draws the figures as charts.
  await page.click("text=Analytics");
  await page.waitForSelector("#chart-per-day svg rect.bar");
  check(await page.locator("#analytics svg rect.bar").count() >= 1, "analytics draws bar charts");
  await shot(page, "analytics");

  // Create a clinician.
  const clinician = `clinician.${stamp}@example.com`;
  const clinicianPassword = `a long clinician password ${stamp}`;
  await page.click("text=Users");
  await page.fill("#u-email", clinician);
  await page.fill("#u-password", clinicianPassword);
  await page.selectOption("#u-role", "clinician");
  await page.click("#user-form button[type=submit]");
  await page.waitForSelector(`#users td:text-is("${clinician}")`);
  check(true, "the admin creates a clinician");
  await shot(page, "users");
  // A role change is saved at once (and back again).
  await page.selectOption(`select[aria-label="Role of ${clinician}"]`, "billing");
  await page.waitForSelector("text=Saved");
  const roleOf = async () => (await api("GET", "/auth/users", token)).body.items.find((u) => u.email === clinician)?.role;
  check(await roleOf() === "billing", "the admin changes a user's role");
  await page.selectOption(`select[aria-label="Role of ${clinician}"]`, "clinician");
  for (let i = 0; i < 50 && await roleOf() !== "clinician"; i++) await page.waitForTimeout(100);
  check(await roleOf() === "clinician", "and back");

  // Log out: the session ends and the cookie is gone.
  await page.click("#logout");
  await page.waitForSelector("#login-form");
  check(!(await page.context().cookies()).some((c) => c.name === "pms_refresh"), "logging out clears the refresh cookie");

  // The clinician sees no delete button and no admin pages.
  await login(page, clinician, clinicianPassword);
  await page.goto(`${gateway}/#/patients/${id}`);
  await page.waitForSelector("#patient-name");
  check(await page.locator("#delete").count() === 0, "a clinician is offered no delete button");
  check(await page.locator("#audit").count() === 0, "nor the audit trail");
  check(await page.locator("#edit").count() === 1, "but can edit");
  check(!(await page.isVisible('nav a[data-nav="users"]')) && !(await page.isVisible('nav a[data-nav="analytics"]')), "nor the admin pages");
  await shot(page, "clinician-record");

  // A reload keeps the session through the refresh cookie.
  await page.reload();
  await page.waitForSelector("#patient-name");
  check(true, "a reload stays logged in");

  // A billing clerk opens the patient's account from the record, posts a
  // charge (a bad field first, shown beside it) and a payment, and prints
  // a statement.
  const clerk = `billing.${stamp}@example.com`;
  const clerkPassword = `a long billing password ${stamp}`;
  const made = await api("POST", "/auth/users", token, { email: clerk, password: clerkPassword, role: "billing" });
  check(made.status === 201, `the admin creates a billing clerk (${made.status})`);
  await page.click("#logout");
  await page.waitForSelector("#login-form");
  await login(page, clerk, clerkPassword);
  check(await page.isVisible('nav a[data-nav="billing"]'), "a billing clerk has the Billing page");
  await page.goto(`${gateway}/#/patients/${id}`);
  await page.waitForSelector("#billing-account");
  check(await page.locator("#edit").count() === 0, "a billing clerk is offered no patient edit");
  await page.click("#billing-account");
  await page.waitForSelector("#balance");
  check((await page.textContent("#account-patient")) === name, "the account names the patient, read from patient-service");
  check((await page.textContent("#balance")) === "0.00 USD", `a new account's balance is 0.00 USD (${await page.textContent("#balance")})`);
  await page.fill("#c-code", "99213");
  await page.fill("#c-quantity", "2");
  await page.fill("#c-unitPrice", "75.50");
  await page.click("#charge-form button[type=submit]");
  await page.waitForSelector("#err-c-description:not(:empty)");
  check((await page.textContent("#err-c-description")).length > 0, "the API's field error is shown beside the description");
  await page.fill("#c-unitPrice", "75.505");
  await page.fill("#c-description", "Office visit");
  await page.click("#charge-form button[type=submit]");
  await page.waitForSelector("#err-c-unitPrice:not(:empty)");
  check(true, "a price with more decimals than the currency has is refused beside the field");
  await shot(page, "billing-field-error");
  await page.fill("#c-unitPrice", "75.50");
  await page.click("#charge-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#balance")?.textContent === "151.00 USD");
  check(true, "the charge is posted: 2 × 75.50 = 151.00 USD");
  await page.fill("#p-amount", "51");
  await page.selectOption("#p-method", "CASH");
  await page.click("#payment-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#balance")?.textContent === "100.00 USD");
  const kinds = await page.locator("#ledger tbody tr td:nth-child(3)").allTextContents();
  check(kinds.join(",") === "PAYMENT,CHARGE", `the ledger lists the payment and the charge, newest first (${kinds})`);
  await shot(page, "billing-account");
  const accountHash = new URL(page.url()).hash;
  const accountId = accountHash.split("/")[2];
  const viaApi = await api("GET", `/billing/accounts/${accountId}`, (await api("POST", "/auth/login", null, { email: clerk, password: clerkPassword })).body.accessToken);
  check(viaApi.body.balanceMinor === 10000, `the API agrees: 10000 minor units (${viaApi.body.balanceMinor})`);
  await page.click("#statement-form button[type=submit]");
  await page.waitForSelector("#statement");
  check((await page.textContent("#statement-patient")) === name, "the statement names the patient");
  check((await page.textContent("#opening")) === "0.00 USD" && (await page.textContent("#closing")) === "100.00 USD",
    "the statement opens at 0.00 and closes at 100.00 USD");
  check(await page.locator("#statement-entries tbody tr").count() === 2, "with both entries");
  await page.emulateMedia({ media: "print" });
  check(!(await page.isVisible("header")) && !(await page.isVisible("#print")), "printed, the statement has no navigation or buttons");
  const pdf = await page.pdf({ path: join(out, "statement.pdf"), format: "A4" });
  check(pdf.length > 1000, `the statement prints (${pdf.length} bytes of PDF)`);
  await page.emulateMedia({ media: "screen" });
  await shot(page, "statement");

  // The admin deletes the record (after confirming); it is gone (410).
  await page.click("#logout");
  await page.waitForSelector("#login-form");
  await login(page, adminEmail, adminPassword);
  await page.goto(`${gateway}/#/patients/${id}`);
  await page.waitForSelector("#delete");
  page.once("dialog", (d) => d.accept());
  await page.click("#delete");
  await page.waitForURL((u) => u.hash === "#/patients");
  const gone = await api("GET", `/patients/${id}`, admin.body.accessToken);
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

  check(failures.length === 0, `no script errors (${failures.join("; ")})`);
} catch (e) {
  await shot(page, "failure").catch(() => {});
  console.error(e.message);
  if (failures.length) console.error(failures.join("\n"));
  process.exitCode = 1;
} finally {
  await browser.close();
}
