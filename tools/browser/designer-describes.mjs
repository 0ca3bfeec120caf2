// A course designer signs in, describes a micro-credential with every field of the form, is shown the rules her
// first attempt breaks next to their fields, fixes them, saves the draft and submits it; a QA officer (another
// person, another browser) finds it in the queue by its title, its designer's and institution's names, and
// approves it; the designer revises the approved course, and the QA officer reads what changed and approves again.
//   node tools/browser/designer-describes.mjs '{"base": ..., "designer": {"username", "password"},
//     "qa": {"username", "password"}, "fields": {form field: value}, "broken": {...}, "fixed": {...},
//     "revision": {...}}'
// "broken" and "revision" are optional: without "broken" the first save is the draft; without "revision" the journey
// ends when the QA officer has approved the first version.
import { config, journey, look, newPage, notice, report, signIn } from "./web.mjs";

const squeeze = (text) => text.replace(/\s+/g, " ").trim();

// Types each value into its field as a person would: text and text areas filled, choices chosen, boxes ticked.
async function fill(page, fields) {
  for (const [name, value] of Object.entries(fields)) {
    if (name === "curriculum_inclusion") {
      for (const box of await page.$$("input[name=curriculum_inclusion]")) {
        const wanted = value.includes(await box.getAttribute("value"));
        if (wanted !== (await box.isChecked())) await box.click();
      }
      continue;
    }
    const field = page.locator(`#field-${name}`);
    const kind = await field.evaluate((element) => element.tagName + ":" + (element.type || ""));
    if (kind.startsWith("SELECT")) await field.selectOption(String(value));
    else if (kind === "INPUT:checkbox") await field.setChecked(Boolean(value));
    else await field.fill(String(value));
  }
}

async function save(page) {
  await Promise.all([page.waitForNavigation(), page.click("form.course-description button.save")]);
}

async function queue(page) {
  return page.$$eval("table.queue tbody tr", (rows) => rows.map((row) => ({
    title: row.querySelector("th a").textContent.trim(),
    lead: row.querySelector("td.lead-institution").textContent.trim(),
    designedBy: row.querySelector("td.designed-by").textContent.trim(),
    submitted: row.querySelector("td.submitted").textContent.replace(/\s+/g, " ").trim(),
  })));
}

async function review(page, title) {
  await page.goto(config.base + "/qa/courses");
  const rows = await queue(page);
  await page.click(`table.queue th a:text-is("${title}")`);
  await page.waitForSelector("section.four-eyes");
  return rows;
}

async function approve(page) {
  await page.click("form.approve button[type=submit]");
  await page.waitForURL(/\/qa\/courses$/);
  return notice(page);
}

await journey(async (browser) => {
  const designer = await newPage(browser);
  await signIn(designer, config.designer.username, config.designer.password);
  await designer.click("nav.menu a[href='/designer/courses']");
  report("my courses", { heading: squeeze(await designer.textContent("main h1")) });
  await look(designer, "designer-courses");

  await designer.click("main a[href='/designer/courses/new']");
  await designer.waitForSelector("form.course-description");
  report("form", {
    sections: await designer.$$eval("form.course-description > fieldset > legend", (ls) => ls.map((l) => l.textContent.trim())),
    fields: await designer.$$eval("form.course-description [name]", (es) => [...new Set(es.map((e) => e.name))]),
  });
  await look(designer, "designer-new");
  await fill(designer, config.fields);
  if (config.broken) {
    await fill(designer, config.broken);
    await save(designer);
    report("refused", {
      summary: await designer.$$eval("#problems li[data-field]", (items) => items.map((item) => ({
        field: item.dataset.field, text: item.textContent.replace(/\s+/g, " ").trim() }))),
      atFields: await designer.$$eval(".field-error", (lists) => lists.map((list) => ({
        field: list.dataset.field, rules: [...list.querySelectorAll("li")].map((li) => li.textContent.trim()),
        invalid: document.getElementById(`field-${list.dataset.field}`)?.getAttribute("aria-invalid") ?? null }))),
      kept: await designer.inputValue("#field-title"),
    });
    await look(designer, "designer-rules-broken");
    await fill(designer, config.fixed);
  }
  await save(designer);
  report("saved", { notice: await notice(designer), url: designer.url() });
  await look(designer, "designer-draft");
  await Promise.all([designer.waitForURL(/\/designer\/courses$/), designer.click("form.submit-course button")]);
  report("submitted", {
    notice: await notice(designer),
    submitted: await designer.$$eval("section.courses-submitted li > a", (as) => as.map((a) => a.textContent.trim())),
  });

  const qa = await newPage(browser);
  await signIn(qa, config.qa.username, config.qa.password);
  const rows = await review(qa, config.fields.title);
  report("queue", { courses: rows });
  await look(qa, "qa-queue-with-names");
  report("new course", {
    changes: squeeze(await qa.textContent("section.changes")),
    designedBy: squeeze(await qa.textContent("dd.designed-by")),
    submittedBy: squeeze(await qa.textContent("dd.submitted-by")),
    lead: squeeze(await qa.textContent("dd.lead-institution")),
    fourEyes: squeeze(await qa.textContent("section.four-eyes")),
  });
  report("approved", { notice: await approve(qa) });
  if (!config.revision) return;

  await designer.goto(config.base + "/designer/courses");
  await designer.click(`section.courses-approved li > a:text-is("${config.fields.title}")`);
  await look(designer, "designer-approved");
  await designer.click("a.revise");
  await designer.waitForSelector("form.course-description");
  await fill(designer, config.revision);
  await save(designer);
  report("revision saved", { notice: await notice(designer) });
  await Promise.all([designer.waitForURL(/\/designer\/courses$/), designer.click("form.submit-course button")]);
  report("revision submitted", { notice: await notice(designer) });

  await review(qa, config.fields.title);
  report("revision", {
    changed: await qa.$$eval("section.changes tbody tr", (trs) => trs.map((tr) => ({
      field: tr.dataset.field, label: tr.querySelector("th").textContent.trim(),
      before: tr.querySelectorAll("td")[0].innerText.replace(/\s+/g, " ").trim(),
      after: tr.querySelectorAll("td")[1].innerText.replace(/\s+/g, " ").trim() }))),
    designedBy: squeeze(await qa.textContent("dd.designed-by")),
  });
  await look(qa, "qa-review-designer-revision");
  report("revision approved", { notice: await approve(qa) });
});
