// A QA officer signs in, opens the queue of courses to review, reads what a revision changed and approves it, sends
// a new course back with reasons, and finds the course she designed herself marked as another officer's to review.
//   node tools/browser/qa-officer-reviews.mjs '{"base": ..., "username": ..., "password": ...,
//                                               "revised": title, "rejected": title, "own": title}'
import { config, journey, look, newPage, notice, report, signIn } from "./web.mjs";

const text = async (page, selector) => (await page.textContent(selector)).replace(/\s+/g, " ").trim();

async function queue(page) {
  return page.$$eval("table.queue tbody tr", (rows) => rows.map((row) => ({
    title: row.querySelector("th a").textContent.trim(),
    fourEyes: row.querySelector("td.four-eyes").textContent.replace(/\s+/g, " ").trim(),
  })));
}

async function open(page, title) {
  await page.click(`table.queue th a:text-is("${title}")`);
  await page.waitForSelector("section.four-eyes");
}

await journey(async (browser) => {
  const page = await newPage(browser);
  await signIn(page, config.username, config.password);
  await page.click("nav.menu a[href='/qa/courses']");
  report("queue", { heading: await text(page, "main h1"), courses: await queue(page) });
  await look(page, "qa-queue");

  await open(page, config.revised);
  report("revision", {
    heading: await text(page, "main h1"),
    fourEyes: await text(page, "section.four-eyes"),
    changed: await page.$$eval("section.changes tbody tr", (rows) => rows.map((row) => ({
      field: row.dataset.field, label: row.querySelector("th").textContent.trim(),
      before: row.querySelectorAll("td")[0].innerText.replace(/\s+/g, " ").trim(),
      after: row.querySelectorAll("td")[1].innerText.replace(/\s+/g, " ").trim() }))),
  });
  await look(page, "qa-review-revision");
  await page.click("form.approve button[type=submit]");
  await page.waitForURL(/\/qa\/courses$/);
  report("approved", { notice: await notice(page), courses: await queue(page) });

  await open(page, config.rejected);
  report("new course", { changes: await text(page, "section.changes") });
  // Sent back without a reason: the page asks for one, and nothing is decided.
  await page.click("form.reject button[type=submit]");
  await page.waitForSelector("main .notice.error");
  report("no reason", { notice: await notice(page) });
  await page.fill("form.reject textarea[name=reasons]", config.reasons.join("\n"));
  await page.click("form.reject button[type=submit]");
  await page.waitForURL(/\/qa\/courses$/);
  report("sent back", { notice: await notice(page), courses: await queue(page) });

  await open(page, config.own);
  report("own course", { fourEyes: await text(page, "section.four-eyes"),
    forms: await page.$$eval("section.decision form", (forms) => forms.length) });
  await look(page, "qa-review-own");
});
