// Opens the live dashboard in Debian's Chromium and watches it while events arrive, as a person at a screen would.
//
//   node tools/browser/watch-dashboard.mjs <dashboard URL> <tile id>=<at least> [...] [--timeout 60] [--screenshot f.png]
//
// Prints "connected" once the page's event stream is live, then waits until every named tile shows at least its
// number, WITHOUT reloading the page (so only the live stream can have moved them), and prints the tiles as JSON.
// Exit 0 when they got there, 1 when not within the timeout.
import { chromium } from "playwright-core";

const [url, ...rest] = process.argv.slice(2);
const option = (name, fallback) => {
  const at = rest.indexOf(name);
  return at >= 0 ? rest.splice(at, 2)[1] : fallback;
};
const timeout = Number(option("--timeout", "60")) * 1000;
const screenshot = option("--screenshot", null);
const wanted = Object.fromEntries(rest.map((pair) => pair.split("=")).map(([id, n]) => [id, Number(n)]));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const tiles = (page) => page.evaluate((ids) => Object.fromEntries(
  ids.map((id) => [id, Number(document.getElementById(id)?.value ?? document.getElementById(id)?.textContent)]),
), Object.keys(wanted));
let reached = false;
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("connection")?.textContent === "Live.", null, { timeout });
  console.log(JSON.stringify({ connected: true, tiles: await tiles(page) }));
  try {
    await page.waitForFunction((goals) => Object.entries(goals).every(
      ([id, least]) => Number(document.getElementById(id)?.value) >= least), wanted, { timeout, polling: 200 });
    reached = true;
  } catch {
    reached = false;
  }
  console.log(JSON.stringify({ reached, tiles: await tiles(page) }));
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
} finally {
  await browser.close();
}
process.exit(reached ? 0 : 1);
