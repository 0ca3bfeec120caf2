// The learner's main journey with the keyboard alone (Tab, typing, Enter; never the mouse): sign in at the identity
// provider, search the catalogue, open the offering, apply. Reports how many Tab presses each target took.
//   node tools/browser/keyboard-journey.mjs '{"base": ..., "username": ..., "password": ..., "title": ...}'
import { config, journey, newPage, notice, report } from "./web.mjs";

// Press Tab until the focused element matches `selector` (and has `text`, when given); at most `limit` presses.
async function tabTo(page, selector, text = null, limit = 80) {
  for (let presses = 1; presses <= limit; presses += 1) {
    await page.keyboard.press("Tab");
    const reached = await page.evaluate(([css, words]) => {
      const element = document.activeElement;
      return Boolean(element?.matches(css) && (!words || element.textContent.trim() === words));
    }, [selector, text]);
    if (reached) return presses;
  }
  throw new Error(`Tab never reached ${selector}${text ? ` "${text}"` : ""} in ${limit} presses on ${page.url()}`);
}

await journey(async (browser) => {
  const page = await newPage(browser);
  const presses = {};
  await page.goto(config.base + "/");
  presses.skipLink = await tabTo(page, "a.skip");
  presses.signIn = await tabTo(page, "header a[href^='/sign-in']");
  await Promise.all([page.waitForSelector("input[name=username]"), page.keyboard.press("Enter")]);
  // The identity provider's page: its username field has the focus, or gets it with Tab.
  if (!(await page.evaluate(() => document.activeElement?.name === "username"))) {
    presses.username = await tabTo(page, "input[name=username]");
  }
  await page.keyboard.type(config.username);
  presses.password = await tabTo(page, "input[name=password]");
  await page.keyboard.type(config.password);
  await Promise.all([page.waitForURL((url) => url.href.startsWith(config.base)), page.keyboard.press("Enter")]);
  report("signed in", { url: page.url(), notice: await notice(page) });

  presses.catalogue = await tabTo(page, "nav.menu a[href='/catalogue']");
  await Promise.all([page.waitForURL(/\/catalogue$/), page.keyboard.press("Enter")]);
  presses.search = await tabTo(page, "#field-q");
  await page.keyboard.type(config.title);
  await Promise.all([page.waitForURL(/\/catalogue\?/), page.keyboard.press("Enter")]);
  presses.offering = await tabTo(page, "li.offering h2 a", config.title);
  await Promise.all([page.waitForURL(/\/catalogue\/[^/?]+$/), page.keyboard.press("Enter")]);
  presses.apply = await tabTo(page, "section.apply button[type=submit]");
  await Promise.all([page.waitForURL(/\/learner\/applications/), page.keyboard.press("Enter")]);
  const row = await page.$("tr[data-application-id]");
  report("applied", { presses, notice: await notice(page), status: await row.getAttribute("data-status"),
    row: (await row.innerText()).replace(/\s+/g, " ").trim() });
});
