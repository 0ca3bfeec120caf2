// A learner finds an offering in the catalogue, signs in at the identity provider's page when she wants to apply,
// applies, and sees her application.
//   node tools/browser/learner-applies.mjs '{"base": ..., "username": ..., "password": ..., "title": ...}'
import { config, journey, look, newPage, notice, report, typeCredentials } from "./web.mjs";

await journey(async (browser) => {
  const page = await newPage(browser);
  await page.goto(config.base + "/");
  await look(page, "home");
  await page.click("nav.menu a[href='/catalogue']");
  await page.fill("#field-q", config.title);
  await page.click("form.search .search-main button[type=submit]");
  await page.waitForURL(/\/catalogue\?/);
  const found = await page.$$eval("li.offering h2 a", (links) => links.map((a) => a.textContent.trim()));
  report("searched", { count: (await page.textContent("p.count")).trim(), found });
  await look(page, "catalogue");
  await page.click(`li.offering h2 a:text-is("${config.title}")`);
  report("offering", { heading: (await page.textContent("main h1")).trim(),
    apply: (await page.textContent("section.apply")).replace(/\s+/g, " ").trim() });
  await page.click("section.apply a[href^='/sign-in']");
  await look(page, "identity-provider-sign-in").catch(() => {});
  await typeCredentials(page, config.username, config.password);
  report("signed in", { url: page.url(), notice: await notice(page) });
  await look(page, "offering");
  await page.click("section.apply button[type=submit]");
  await page.waitForURL(/\/learner\/applications/);
  const row = await page.$("tr[data-application-id]");
  report("applied", {
    notice: await notice(page),
    status: await row.getAttribute("data-status"),
    row: (await row.innerText()).replace(/\s+/g, " ").trim(),
  });
  await look(page, "applications");
});
