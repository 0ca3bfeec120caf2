// A partner university's people decide on other members' joint courses, four eyes: a QA officer recommends one and
// is refused when she then consents to it herself (the page says so; a consent sent anyway is refused with the
// catalogue's reason); a decline without a reason is refused; a course designer recommends another, and the QA officer
// consents to that one.
//   node tools/browser/partner-consents.mjs '{"base": ..., "qa": {"username": ..., "password": ...},
//                                              "designer": {...}, "own": title, "shared": title}'
import { config, journey, look, newPage, notice, report, signIn } from "./web.mjs";

const text = async (page, selector) => (await page.textContent(selector)).replace(/\s+/g, " ").trim();

async function cases(page) {
  await page.click("nav.menu a[href='/qa/consents']");
  await page.waitForURL(/\/qa\/consents$/);
  return page.$$eval("main table tbody tr", (rows) => rows.map((row) => row.innerText.replace(/\s+/g, " ").trim()));
}

async function open(page, title) {
  await page.click(`main table a:text-is("${title}")`);
  await page.waitForSelector("section.decision");
}

const decision = (page) => text(page, "section.decision");

// A form sent: the page it leads to (the same address, with the notice of what happened).
async function send(page, action) {
  await Promise.all([page.waitForNavigation(), action()]);
}

await journey(async (browser) => {
  const qa = await newPage(browser);
  await signIn(qa, config.qa.username, config.qa.password);
  const rows = await cases(qa);
  report("cases", { heading: await text(qa, "main h1"), rows });
  await look(qa, "consents");

  await open(qa, config.own);
  report("own case", { heading: await text(qa, "main h1"), awarding: await text(qa, "dd.awarding-bodies"),
    lead: await text(qa, "dd.lead-institution"), changes: await text(qa, "section.changes") });
  await send(qa, () => qa.click("form.recommend button[type=submit]"));
  report("recommended", { notice: await notice(qa), recommendedBy: await text(qa, "dd.recommended-by"),
    decision: await decision(qa), consentForms: await qa.$$eval("form.consent", (forms) => forms.length) });
  await look(qa, "consent-recommended-by-you");

  // A decline needs a reason: without one nothing is decided.
  await send(qa, () => qa.click("form.decline button[type=submit]"));
  report("no reason", { notice: await notice(qa), state: await text(qa, "main dl.facts dd") });

  // The consent the page does not offer her, sent anyway (the decline form's CSRF token, to the consent address):
  // the catalogue refuses it and the page shows why.
  await send(qa, () => qa.$eval("form.decline", (form) => {
    form.action = form.action.replace(/\/decline$/, "/consent");
    form.submit();
  }));
  report("own consent", { notice: await notice(qa), state: await text(qa, "main dl.facts dd") });

  const designer = await newPage(browser);
  await signIn(designer, config.designer.username, config.designer.password);
  await cases(designer);
  await open(designer, config.shared);
  await send(designer, () => designer.click("form.recommend button[type=submit]"));
  report("designer recommended", { notice: await notice(designer), decision: await decision(designer) });

  await cases(qa);
  await open(qa, config.shared);
  report("second pair of eyes", { recommendedBy: await text(qa, "dd.recommended-by"), decision: await decision(qa) });
  await send(qa, () => qa.click("form.consent button[type=submit]"));
  report("consented", { notice: await notice(qa), state: await text(qa, "main dl.facts dd"),
    decidedBy: await text(qa, "dd.decided-by"), decision: await decision(qa) });
  await look(qa, "consent-given");
  report("cases after", { rows: await cases(qa) });
});
