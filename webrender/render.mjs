// texpaste's web-math renderer: KaTeX or MathJax in headless Chromium, run by
// server/texpaste/data/web.py. stdin: one JSON job {engine, chromium, outDir, scale, pad,
// items: [{latex, display, fontPx, pageFont, fg, bg, mathScale}]}. stdout: one JSON result
// {tiles: [{file, y}], items: [{error} | {tile, box: [x0, y0, x1, y1]}]}, boxes in device pixels
// of their tile's PNG (written to outDir). The page is a local file and the network is off.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROW_WIDTH = 1600; // CSS px: the page is this wide unless a formula is wider
const MAX_TILE = 4096; // device px: screenshots are at most this tall (unless one row is taller)
const PAGE_ITEMS = 250; // formulas per page
const MAX_SIZE = 8192; // device px: a formula wider or taller than this is dropped, as a failure

// Runs in the page: render every item into its own cell, then place the cells on shelves at
// whole device pixels.
async function layout({ items, scale, pad, rowWidth: rowCss, maxSize }) {
  const root = document.getElementById('root');
  const cells = [];
  for (const item of items) {
    const cell = document.createElement('div');
    cell.className = 'cell';
    Object.assign(cell.style, {
      color: item.fg,
      background: item.bg,
      fontFamily: item.pageFont,
      fontSize: `${item.fontPx}px`,
      padding: `${pad}px`,
    });
    const math = document.createElement(item.display ? 'div' : 'span');
    cell.appendChild(math);
    root.appendChild(cell);
    try {
      await window.texpasteRender(math, item.latex, item);
      cells.push({ cell });
    } catch (err) {
      cell.remove();
      cells.push({ error: String(err?.message ?? err).slice(0, 200) || 'error' });
    }
  }
  await window.texpasteFinish();
  void document.body.offsetHeight; // lay out, so that the web fonts in use start loading
  await document.fonts.ready;
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));

  // Measure everything, then move everything: interleaving the two lays the page out per cell.
  const sizes = cells.map((c) => {
    if (c.error) return null;
    const r = c.cell.getBoundingClientRect();
    return [Math.ceil(r.width * scale) + 2, Math.ceil(r.height * scale) + 2];
  });
  for (const [i, size] of sizes.entries()) {
    if (size && Math.max(...size) > maxSize) {
      cells[i].cell.remove();
      cells[i] = { error: `larger than ${maxSize} px` };
      sizes[i] = null;
    }
  }
  // Shelves of cells of similar height (tallest first) waste the least screenshot area.
  const order = [...cells.keys()]
    .filter((i) => sizes[i])
    .sort((a, b) => sizes[b][1] - sizes[a][1] || a - b);
  const rowWidth = Math.round(rowCss * scale);
  const shelves = [];
  let x = 0;
  for (const i of order) {
    const [w, h] = sizes[i];
    if (!shelves.length || (x > 0 && x + w > rowWidth)) {
      const last = shelves.at(-1);
      shelves.push({ y: last ? last.y + last.h : 0, h, w: 1 });
      x = 0;
    }
    const shelf = shelves.at(-1);
    cells[i].cell.style.left = `${x / scale}px`;
    cells[i].cell.style.top = `${shelf.y / scale}px`;
    cells[i].shelf = shelves.length - 1;
    x += w;
  }
  void document.body.offsetHeight;
  const out = cells.map((c) => {
    if (c.error) return { error: c.error };
    const r = c.cell.getBoundingClientRect();
    const box = [r.left, r.top, r.right, r.bottom].map((v) => Math.round(v * scale));
    shelves[c.shelf].w = Math.max(shelves[c.shelf].w, box[2]);
    return { shelf: c.shelf, box };
  });
  return { items: out, shelves };
}

async function main() {
  const job = JSON.parse(readFileSync(0, 'utf8'));
  const browser = await chromium.launch({
    executablePath: job.chromium,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-extensions',
      '--disable-sync',
      '--no-first-run',
      '--force-color-profile=srgb',
      '--host-resolver-rules=MAP * ~NOTFOUND',
      '--proxy-server=127.0.0.1:9',
    ],
  });
  try {
    const context = await browser.newContext({
      viewport: { width: ROW_WIDTH, height: 800 },
      deviceScaleFactor: job.scale,
      offline: true,
      serviceWorkers: 'block',
    });
    await context.route('**/*', (route) =>
      route.request().url().startsWith('file:') ? route.continue() : route.abort(),
    );
    const tiles = [];
    const items = [];
    for (let start = 0; start < job.items.length; start += PAGE_ITEMS) {
      const page = await context.newPage();
      await page.goto(pathToFileURL(path.join(HERE, `${job.engine}.html`)).href, {
        waitUntil: 'load',
      });
      if (job.engine === 'mathjax') await page.evaluate(() => window.MathJax.startup.promise);
      const laid = await page.evaluate(layout, {
        items: job.items.slice(start, start + PAGE_ITEMS),
        scale: job.scale,
        pad: job.pad,
        rowWidth: ROW_WIDTH,
        maxSize: MAX_SIZE,
      });
      // group shelves into tiles no taller than MAX_TILE device px, one screenshot each
      const first = tiles.length;
      const tileOf = [];
      for (const shelf of laid.shelves) {
        const tile = tiles.length > first ? tiles.at(-1) : null;
        if (tile && shelf.y + shelf.h - tile.y <= MAX_TILE) {
          tile.h = shelf.y + shelf.h - tile.y;
          tile.w = Math.max(tile.w, shelf.w);
        } else {
          const file = path.join(job.outDir, `tile-${tiles.length}.png`);
          tiles.push({ y: shelf.y, h: shelf.h, w: shelf.w, file });
        }
        tileOf.push(tiles.length - 1);
      }
      for (const tile of tiles.slice(first)) {
        await page.screenshot({
          path: tile.file,
          fullPage: true,
          clip: {
            x: 0,
            y: tile.y / job.scale,
            width: tile.w / job.scale,
            height: tile.h / job.scale,
          },
          animations: 'disabled',
          caret: 'hide',
        });
      }
      for (const it of laid.items) {
        if (it.error) items.push(it);
        else {
          const tile = tileOf[it.shelf];
          const y = tiles[tile].y;
          items.push({ tile, box: [it.box[0], it.box[1] - y, it.box[2], it.box[3] - y] });
        }
      }
      await page.close();
    }
    process.stdout.write(
      JSON.stringify({ tiles: tiles.map((t) => ({ file: t.file, y: t.y })), items }),
    );
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${String(err?.message ?? err).split('\n')[0]}\n`);
  process.exit(1);
});
