// An assessor signs in, opens a course's grading page, uploads a cohort's CSV with good and bad lines, watches the
// results page until every line is processed, and records one grade with the form.
//   node tools/browser/assessor-uploads-cohort.mjs '{"base": ..., "username": ..., "password": ..., "course": id,
//                                                    "csv": path, "one": {"learner": id, "grade": "2.0"},
//                                                    "scheme": {"kind": "numeric", "fields": {"minimum": "1.0", ...},
//                                                               "lowerIsBetter": true}}'
// "one" is optional: without it the journey ends with the upload's results. With "scheme", the assessor first sets
// the course's grading scheme with the page's form.
import { config, journey, look, newPage, notice, report, signIn } from "./web.mjs";

await journey(async (browser) => {
  const page = await newPage(browser);
  await signIn(page, config.username, config.password);
  await page.click("nav.menu a[href='/assessor/courses']");
  await page.click(`ul.courses li[data-course-id='${config.course}'] a`);
  if (config.scheme) {
    await page.selectOption("#field-kind", config.scheme.kind);
    for (const [field, value] of Object.entries(config.scheme.fields ?? {})) await page.fill(`#field-${field}`, value);
    if (config.scheme.lowerIsBetter) await page.check("#field-lower_is_better");
    await look(page, "assessor-grading-scheme");
    await page.click("form.grading-scheme button[type=submit]");
    await page.waitForSelector("main .notice");
    report("scheme", { notice: await notice(page) });
  }
  report("course", { scheme: (await page.innerText("section[aria-labelledby=scheme-heading]")).replace(/\s+/g, " "),
    ungraded: await page.$$eval("#field-learner_id option", (options) => options.map((o) => o.value)) });
  await look(page, "assessor-course");

  await page.setInputFiles("form.cohort input[type=file]", config.csv);
  await page.click("form.cohort button[type=submit]");
  await page.waitForURL(/\/assessor\/uploads\//);
  report("first look", { progress: (await page.textContent(".upload-progress")).replace(/\s+/g, " ").trim() });
  // The page reloads itself (Refresh header) until the upload is processed.
  await page.waitForSelector(".upload-progress[data-finished=yes]", { timeout: 120000 });
  report("results", {
    progress: (await page.textContent(".upload-progress")).replace(/\s+/g, " ").trim(),
    lines: await page.$$eval("table.upload-results tbody tr", (rows) => rows.map((row) => ({
      line: Number(row.dataset.line), outcome: row.dataset.outcome,
      details: row.querySelectorAll("td")[2].textContent.replace(/\s+/g, " ").trim() }))),
  });
  await look(page, "assessor-upload-results");
  if (!config.one) return;

  await page.click("a:has-text('Back to the course')");
  await page.selectOption("#field-learner_id", config.one.learner);
  await page.fill("#field-grade", config.one.grade);
  await page.click("form.one-grade button[type=submit]");
  await page.waitForSelector("main .notice");
  report("one grade", { notice: await notice(page),
    graded: await page.$$eval("table.grades tbody tr", (rows) => rows.map((row) => row.dataset.learnerId)) });
});
