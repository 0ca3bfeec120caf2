// A registrar signs in, opens an offering of an approved course through the form, and lands on its page.
//   node tools/browser/registrar-opens-offering.mjs '{"base": ..., "username": ..., "password": ..., "course": title,
//                                                     "opens": "YYYY-MM-DD", "closes": "YYYY-MM-DD", "capacity": n,
//                                                     "fee": amount, "starts": ..., "ends": ...}'
import { config, journey, look, newPage, notice, report, signIn } from "./web.mjs";

await journey(async (browser) => {
  const page = await newPage(browser);
  await signIn(page, config.username, config.password);
  await page.click("nav.menu a[href='/registrar/offerings']");
  await look(page, "registrar-offerings");
  await page.click("main a[href='/registrar/offerings/new']");
  await page.waitForSelector("#field-course_id");
  const course = await page.$eval("#field-course_id", (select, title) =>
    [...select.options].find((option) => option.text.startsWith(`${title} (`)).value, config.course);
  await page.selectOption("#field-course_id", course);
  await page.fill("#field-registration_opens_on", config.opens);
  await page.fill("#field-registration_closes_on", config.closes);
  await page.fill("#field-capacity", String(config.capacity));
  await page.fill("#field-fee_amount", String(config.fee));
  await look(page, "registrar-open-offering");
  // Without teaching dates: a course with fixed dates needs them, and the form comes back saying so, filled in.
  await page.click("form.open-offering button[type=submit]");
  await page.waitForSelector("main .notice.error");
  report("refused", { problem: await notice(page), capacity: await page.inputValue("#field-capacity") });
  await page.fill("#field-starts_on", config.starts);
  await page.fill("#field-ends_on", config.ends);
  await page.click("form.open-offering button[type=submit]");
  await page.waitForURL(/\/registrar\/offerings\/[0-9a-f-]{36}$/);
  report("opened", { notice: await notice(page), url: page.url(), heading: (await page.textContent("main h1")).trim() });
});
