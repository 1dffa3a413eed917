#!/usr/bin/env node
// The topology page in a real browser: headless Chromium (the system's,
// never a download) driven by puppeteer-core.  Used by
// tests/integration/130-http.bats; one JSON argument:
//   {"url": "http://127.0.0.1:PORT/#token=...",
//    "slice": "NAME", "routers": [...], "links": [...],   every one must be drawn
//    "down": {"link": "LINK", "cmd": ["trellis", ...]},    run cmd, time until the link is red
//    "screenshot": "FILE", "phone": "FILE",   screenshots; "phone": also at a phone's width
//    "profile": "DIR"}                         the browser's profile directory
// Prints one JSON line: {"slices": [...drawn], "routers": [...], "links": [...],
// "down_ms": N, "stroke": "rgb(...)"}.  Exit 0 when every check passed, 1 when
// one failed (the reason on stderr), 77 when the browser cannot start here.
'use strict';

const { execFileSync } = require('child_process');

async function main() {
  const opt = JSON.parse(process.argv[2]);
  let puppeteer;
  try {
    puppeteer = require('puppeteer-core');
  } catch (e) {
    console.error('page-check: puppeteer-core is not installed (npm install in tests/browser): ' + e.message);
    process.exit(77);
  }
  const exe = process.env.CHROMIUM || '/usr/bin/chromium';
  let browser;
  try {
    browser = await puppeteer.launch({
      executablePath: exe,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
      timeout: 20000,
      userDataDir: opt.profile,	// the caller's own directory: it can find (and end) what is left
    });
  } catch (e) {
    console.error(`page-check: the browser (${exe}) does not start here: ${e.message.split('\n')[0]}`);
    process.exit(77);
  }
  const out = {};
  let failed = null;
  const fail = (why) => { if (!failed) failed = why; };
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1000, height: 700 });
    const external = [];
    page.on('request', (r) => { if (!r.url().startsWith(new URL(opt.url).origin) && !r.url().startsWith('data:')) external.push(r.url()); });
    page.on('pageerror', (e) => fail('script error on the page: ' + e.message));
    await page.goto(opt.url, { waitUntil: 'load', timeout: 10000 });
    // The first refresh draws what the caller may see.
    await page.waitForFunction(() => document.body.dataset.updated || document.getElementById('status').className === 'error', { timeout: 5000 });
    out.slices = await page.$$eval('section.slice', (s) => s.map((x) => x.dataset.slice));
    out.status = await page.$eval('#status', (s) => s.textContent);
    if (opt.slice) {
      const sel = `section.slice[data-slice="${opt.slice}"]`;
      out.routers = await page.$$eval(`${sel} g.router`, (g) => g.map((x) => x.dataset.router));
      out.links = await page.$$eval(`${sel} g.linkg`, (g) => g.map((x) => x.dataset.link));
      for (const r of opt.routers || []) if (!out.routers.includes(r)) fail(`router '${r}' is not drawn`);
      for (const l of opt.links || []) if (!out.links.includes(l)) fail(`link '${l}' is not drawn`);
      // Every drawn router and link has a size on the screen.
      const boxes = await page.$$eval(`${sel} g.router circle, ${sel} line.link`, (e) =>
        e.map((x) => { const b = x.getBoundingClientRect(); return b.width + b.height; }));
      if (boxes.some((b) => !(b > 0))) fail('a router or link has no size on the screen');
      // Hover text: the router's state and limits.
      if (out.routers.length) {
        out.router_info = await page.$eval(`${sel} g.router title`, (t) => t.textContent);
        if (!/limits: cpu/.test(out.router_info)) fail('a router\'s title has no limits: ' + out.router_info);
      }
      if (opt.down) {
        const line = `${sel} g.linkg[data-link="${opt.down.link}"] line.link`;
        const stroke = () => page.$eval(line, (l) => getComputedStyle(l).stroke);
        out.stroke_before = await stroke();
        const t0 = Date.now();
        execFileSync(opt.down.cmd[0], opt.down.cmd.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
        try {
          await page.waitForFunction((l) => getComputedStyle(document.querySelector(l)).stroke === 'rgb(220, 0, 0)',
            { timeout: 2000, polling: 50 }, line);
          out.down_ms = Date.now() - t0;
        } catch (e) {
          fail(`link '${opt.down.link}' did not turn red within 2 s of '${opt.down.cmd.join(' ')}'`);
        }
        out.stroke = await stroke();
      }
    }
    if (external.length) fail('the page fetched from elsewhere: ' + external.join(' '));
    if (opt.screenshot) await page.screenshot({ path: opt.screenshot, fullPage: true });
    if (opt.phone) {
      // A phone's width: nothing wider than the screen, the topology still drawn.
      await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
      await new Promise((r) => setTimeout(r, 300));
      out.phone_width = await page.evaluate(() => document.documentElement.scrollWidth);
      if (out.phone_width > 390) fail(`on a 390 px wide phone the page is ${out.phone_width} px wide`);
      if (opt.slice) {
        const w = await page.$eval(`section.slice[data-slice="${opt.slice}"] svg`, (x) => x.getBoundingClientRect().width);
        if (!(w > 300)) fail(`on a phone the topology is ${w} px wide`);
      }
      await page.screenshot({ path: opt.phone, fullPage: true });
    }
  } catch (e) {
    fail(e.message);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
  if (failed) {
    console.error('page-check: ' + failed);
    process.exit(1);
  }
}

main();
