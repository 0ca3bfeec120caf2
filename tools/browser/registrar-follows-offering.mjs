// A registrar signs in, reads an offering's applications and waitlist, records a fee as paid, revokes a credential
// with a reason (after trying without one), and reads the emails that could not be delivered.
//   node tools/browser/registrar-follows-offering.mjs '{"base": ..., "username": ..., "password": ..., "offering": id,
//                                                       "credential": id, "reason": text}'
import { config, journey, look, newPage, notice, report, signIn } from "./web.mjs";

const rows = (page, selector) => page.$$eval(selector, (found) => found.map((row) => ({
  learner: row.dataset.learnerId, position: row.dataset.position ?? null,
  text: row.innerText.replace(/\s+/g, " ").trim() })));

await journey(async (browser) => {
  const page = await newPage(browser);
  await signIn(page, config.username, config.password);
  await page.click("nav.menu a[href='/registrar/offerings']");
  await page.click(`table.offerings tr[data-offering-id='${config.offering}'] th a`);
  report("offering", { facts: (await page.innerText("dl.facts")).replace(/\s+/g, " "),
    enrolled: await rows(page, "table.enrolled tbody tr"), waitlist: await rows(page, "table.waitlist tbody tr") });
  await look(page, "registrar-offering");
  await page.click("table.enrolled tbody tr:first-child form button:has-text('Paid')");
  await page.waitForSelector("main .notice");
  report("fee recorded", { notice: await notice(page), enrolled: await rows(page, "table.enrolled tbody tr") });

  await page.click("nav.menu a[href='/registrar/credentials']");
  const item = `li.credential[data-credential-id='${config.credential}']`;
  await page.click(`${item} summary`);
  await look(page, "registrar-credentials");
  await page.click(`${item} form.revoke button[type=submit]`);
  await page.waitForSelector("main .notice.error");
  report("no reason", { notice: await notice(page) });
  await page.click(`${item} summary`);
  await page.fill(`${item} form.revoke textarea[name=reason]`, config.reason);
  await page.click(`${item} form.revoke button[type=submit]`);
  await page.waitForSelector("main .notice.success");
  report("revoked", { notice: await notice(page), status: await page.getAttribute(item, "data-status"),
    text: (await page.innerText(item)).replace(/\s+/g, " ") });

  await page.click("nav.menu a[href='/registrar/emails']");
  await page.waitForURL(/\/registrar\/emails$/);
  report("failed emails", { heading: (await page.textContent("main h1")).trim(),
    rows: await page.$$eval("table.failed-emails tbody tr", (found) => found.length) });
  await look(page, "registrar-failed-emails");
});
