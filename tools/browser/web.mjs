// What the front end's browser checks share: Debian's Chromium, signing in at the identity provider's own login page
// (typing into its fields, as a person does), axe-core's accessibility check, screenshots, and reporting.
//
// Each journey script takes one JSON argument ({"base": front end URL, "screenshots": dir, ...}) and prints one JSON
// object per line: {"step": ..., ...what a person would notice}; the Python tests read them and assert.
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");

export const config = JSON.parse(process.argv[2] ?? "{}");

export function report(step, facts = {}) {
  console.log(JSON.stringify({ step, ...facts }));
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    // Without the background-networking flags Chromium keeps calling Google's hosts, which this network refuses.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
}

export async function newPage(browser, { language = "en" } = {}) {
  // bypassCSP: the pages allow only their own scripts, and axe-core is injected into them by this checker.
  const context = await browser.newContext({ locale: language, viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  page.setDefaultTimeout(Number(config.timeout ?? 30000));
  // A button that asks to confirm (withdrawing) is answered yes, as the person would.
  page.on("dialog", (dialog) => dialog.accept());
  return page;
}

// The identity provider's login page: fill in the username and password and press its button (Keycloak's own form).
export async function typeCredentials(page, username, password) {
  await page.waitForSelector("input[name=username]");
  report("identity provider", { url: page.url().split("?")[0], title: await page.title() });
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL((url) => url.href.startsWith(config.base)), page.keyboard.press("Enter")]);
}

export async function signIn(page, username, password) {
  await page.goto(config.base + "/");
  await page.click("header a[href^='/sign-in']");
  await typeCredentials(page, username, password);
}

// axe-core in the page: WCAG 2.1 A and AA rules; what it finds, by impact.
export async function accessibility(page, name) {
  await page.addScriptTag({ path: AXE });
  const found = await page.evaluate(async () => {
    const result = await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  report("axe", { page: name, url: page.url(), violations: found });
  return found;
}

export async function screenshot(page, name) {
  if (!config.screenshots) return;
  await mkdir(config.screenshots, { recursive: true });
  // screenshotPrefix keeps one journey's pictures apart from another's (journey-designer-new.png, ...).
  const file = `${config.screenshotPrefix ?? ""}${name}.png`;
  await page.screenshot({ path: join(config.screenshots, file), fullPage: true });
}

// A page looked at: a screenshot, and axe-core's findings.
export async function look(page, name) {
  await screenshot(page, name);
  return accessibility(page, name);
}

export async function notice(page) {
  const box = await page.$("main .notice");
  return box ? (await box.innerText()).trim() : null;
}

// Runs a journey; a failure is reported as a step too (with a screenshot), and the exit status says so.
export async function journey(steps) {
  const browser = await launch();
  try {
    await steps(browser);
  } catch (error) {
    report("failed", { error: String(error?.stack ?? error) });
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
