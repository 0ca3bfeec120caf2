// A learner's wallet: she sees her credential, downloads its PDF and JSON, makes a share link an employer opens,
// takes it back, sets her email preferences, finds a form without its CSRF token refused, and signs out.
//   node tools/browser/learner-wallet.mjs '{"base": ..., "username": ..., "password": ..., "downloads": dir}'
// With "keepShare": true the journey ends once the employer has opened the share link (the link stays valid).
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { config, journey, look, newPage, notice, report, signIn } from "./web.mjs";

await journey(async (browser) => {
  const page = await newPage(browser);
  await signIn(page, config.username, config.password);
  await page.click("nav.menu a[href='/learner/wallet']");
  const card = await page.waitForSelector("article.credential");
  report("wallet", { title: (await card.$eval("h2", (h) => h.textContent)).trim(),
    status: (await card.$eval("dd.status", (d) => d.textContent)).trim() });
  await look(page, "wallet");

  // The certificate and the signed credential, as the browser fetches them from the links.
  for (const [kind, selector, file] of [["pdf", "a.pdf", "certificate.pdf"], ["json", "a.json", "credential.json"]]) {
    const href = await card.$eval(selector, (a) => a.href);
    const response = await page.context().request.get(href);
    await writeFile(join(config.downloads, file), await response.body());
    report("downloaded", { kind, status: response.status(), type: response.headers()["content-type"], file });
  }

  await card.$eval("select[name=days]", (select) => { select.value = "7"; });
  await page.click("article.credential form.share button[type=submit]");
  await page.waitForSelector("ul.links li.active a.share-url");
  const url = await page.$eval("ul.links li.active a.share-url", (a) => a.href);
  report("shared", { notice: await notice(page), url });

  // An employer opens the link: another browser, nobody signed in.
  const employer = await newPage(browser);
  let response = await employer.goto(url);
  report("share link opened", { status: response.status(), outcome: await employer.getAttribute(".verdict", "data-outcome"),
    heading: (await employer.textContent("main h1")).trim() });
  await look(employer, "shared-credential");
  if (config.keepShare) return;

  await page.click("ul.links li.active form button[type=submit]");
  await page.waitForURL(/\/learner\/wallet/);
  report("share revoked", { notice: await notice(page), active: await page.$$eval("ul.links li.active", (l) => l.length),
    ended: (await page.textContent("ul.links li.ended")).replace(/\s+/g, " ").trim() });
  response = await employer.goto(url);
  report("revoked link opened", { status: response.status(), text: (await employer.textContent("main")).replace(/\s+/g, " ").trim() });

  await page.click("nav.menu a[href='/learner/preferences']");
  await look(page, "preferences");
  await page.check("#optional-no");
  await page.click("main form button[type=submit]");
  report("preferences saved", { notice: await notice(page), optional: await page.isChecked("#optional-yes") });

  // A form whose CSRF token is missing (as a forged one from another site would be) is refused, and changes nothing.
  await page.check("#optional-yes");
  await page.$eval("main form input[name=csrf_token]", (input) => input.remove());
  const [refused] = await Promise.all([page.waitForNavigation(), page.click("main form button[type=submit]")]);
  report("form without CSRF token", { status: refused.status(), heading: (await page.textContent("main h1")).trim() });
  await page.goto(config.base + "/learner/preferences");
  report("preferences after the refused form", { optional: await page.isChecked("#optional-yes") });

  await page.click("header form[action='/sign-out'] button");
  await page.waitForURL(/\/signed-out/);
  report("signed out", { url: page.url(), heading: (await page.textContent("main h1")).trim(),
    header: (await page.textContent("header .who")).replace(/\s+/g, " ").trim() });
  await look(page, "signed-out");
  await page.goto(config.base + "/learner/wallet");
  // Signed out here and at the identity provider: the wallet asks to sign in, and the provider asks for the password.
  await page.waitForSelector("input[name=password]");
  report("wallet after signing out", { url: page.url().split("?")[0] });
});
