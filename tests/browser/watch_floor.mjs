// Drives the watch-floor page in Debian's Chromium with playwright-core (no bundled browser).
//
//   node watch_floor.mjs URL EXPECTED_IDS_JSON ACK_ID OFFICER SCREENSHOT
//
// Loads the page, waits until every expected alert id is listed (live, through the page's own
// requests), opens ACK_ID, acknowledges it as OFFICER through the page's button, waits until
// the page shows it acknowledged (the state comes back from Kafka through the event stream),
// takes a screenshot, and prints one JSON object with what it saw. Exit 1 on any failure.
import { chromium } from "playwright-core";

const [url, expectedJson, ackId, officer, screenshot] = process.argv.slice(2);
const expected = JSON.parse(expectedJson);
const result = { errors: [], console_errors: [] };
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  page.on("pageerror", (e) => result.errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") result.console_errors.push(m.text()); });
  page.on("requestfailed", (r) => {
    // The event stream is aborted when the page closes; anything else is a failure.
    if (!r.url().endsWith("/watch/events")) result.errors.push(`request failed: ${r.url()}`);
  });
  await page.goto(url);
  await page.waitForSelector("body[data-ready=yes]", { timeout: 30000 });
  await page.waitForFunction(
    (ids) => ids.every((id) => document.querySelector(`.row[data-alert-id="${id}"]`)),
    expected, { timeout: 30000 },
  );
  result.rows = await page.$$eval(".row", (rs) => rs.map((r) => r.dataset.alertId));
  result.connection = await page.textContent("[data-testid=connection]");
  result.counts = {
    open: await page.textContent("#count-open"),
    unacknowledged: await page.textContent("#count-unack"),
  };
  await page.fill("#operator", officer);
  await page.dispatchEvent("#operator", "change");
  await page.click(`.row[data-alert-id="${ackId}"]`);
  await page.waitForSelector("[data-testid=alert-detail]:not([hidden])");
  await page.waitForSelector("[data-testid=evidence] dl");
  result.ack_before = await page.getAttribute("[data-testid=ack-state]", "data-acknowledged");
  result.evidence_keys = await page.$$eval("[data-testid=evidence] > dl > dt", (d) => d.map((x) => x.textContent));
  result.detail_fields = await page.$$eval("#d-fields dt", (ds) => Object.fromEntries(
    ds.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
  result.mmsi_text = await page.evaluate("[mmsiText(1), mmsiText(572329), mmsiText(316012345), mmsiText(null)]");
  await page.click('[data-action="ack"]');
  await page.waitForSelector("[data-testid=ack-state][data-acknowledged=yes]", { timeout: 30000 });
  result.ack_text = await page.textContent("[data-testid=ack-state]");
  result.action_message = await page.textContent("[data-testid=action-message]");
  result.row_badge = await page.textContent(`.row[data-alert-id="${ackId}"] .badge`);
  result.audit = await page.$$eval("[data-testid=audit] li", (l) => l.map((x) => x.textContent));
  result.counts_after = {
    open: await page.textContent("#count-open"),
    unacknowledged: await page.textContent("#count-unack"),
  };
  await page.waitForTimeout(500); // the map redraws the selected alert's track
  await page.screenshot({ path: screenshot });
} catch (e) {
  result.errors.push(String(e));
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.errors.length ? 1 : 0);
