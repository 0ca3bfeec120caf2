// Checks a credential on the verify page in Debian's Chromium, as an employer would: uploads the file (or pastes its
// text with --paste), presses "Verify", and prints what the page then shows as JSON: the outcome the verdict box is
// marked with, its heading, its colour class and its text.
//
//   node tools/browser/verify-page.mjs <verify page URL> <credential file> [--paste] [--screenshot f.png]
import { readFile } from "node:fs/promises";
import { chromium } from "playwright-core";

const [url, file, ...rest] = process.argv.slice(2);
const option = (name, fallback) => {
  const at = rest.indexOf(name);
  return at >= 0 ? rest.splice(at, 2)[1] : fallback;
};
const screenshot = option("--screenshot", null);
const paste = rest.includes("--paste");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const page = await browser.newPage();
  await page.goto(url);
  if (paste) {
    await page.fill("#credential", await readFile(file, "utf8"));
  } else {
    await page.setInputFiles("#file", file);
    await page.waitForFunction(() => document.getElementById("credential").value.length > 0);
  }
  await page.click("button[type=submit]");
  const box = await page.waitForSelector("#result [data-outcome]", { timeout: 60000 });
  console.log(JSON.stringify({
    outcome: await box.getAttribute("data-outcome"),
    class: await box.getAttribute("class"),
    heading: await box.$eval("h2", (heading) => heading.textContent),
    text: await box.innerText(),
  }));
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
} finally {
  await browser.close();
}
