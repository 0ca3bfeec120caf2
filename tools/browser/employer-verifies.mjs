// An employer verifies a credential on the front end's verify page: by uploading its file, by following the QR code's
// link of its certificate (also in German), and sees a changed copy called not valid.
//   node tools/browser/employer-verifies.mjs '{"base": ..., "credential": file, "tampered": file, "qr": url}'
// "tampered" and "qr" are optional: without them the employer only uploads the credential.
import { config, journey, look, newPage, report } from "./web.mjs";

async function verdict(page) {
  const box = await page.waitForSelector(".verdict[data-outcome]");
  return { outcome: await box.getAttribute("data-outcome"), heading: (await box.$eval("h2", (h) => h.textContent)).trim(),
    text: (await box.innerText()).replace(/\s+/g, " ").trim(), lang: await page.getAttribute("html", "lang") };
}

await journey(async (browser) => {
  const page = await newPage(browser);
  await page.goto(config.base + "/verify");
  await look(page, "verify");
  await page.setInputFiles("#field-file", config.credential);
  await page.click("form.verify button[type=submit]");
  report("uploaded", await verdict(page));
  await look(page, "verify-uploaded");

  if (!config.tampered) return;
  await page.goto(config.base + "/verify");
  await page.setInputFiles("#field-file", config.tampered);
  await page.click("form.verify button[type=submit]");
  report("tampered uploaded", await verdict(page));

  if (!config.qr) return;
  const qr = await newPage(browser);
  await qr.goto(config.qr);
  report("QR link", { url: qr.url(), ...(await verdict(qr)) });
  await look(qr, "verify-qr-link");

  const german = await newPage(browser, { language: "de-DE" });
  await german.goto(config.qr);
  report("QR link in German", await verdict(german));
  await look(german, "verify-qr-link-de");
});
