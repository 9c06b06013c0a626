import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type ClipboardHost,
  type ExecResult,
  POWERSHELL_SCRIPT,
  imageFileFromUriList,
  parseOsascriptData,
  pickImageType,
  readClipboardImage,
} from '../../src/clipboard';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);

type Script = Record<string, ExecResult | undefined>;

/** A host whose programs answer from `script` (keyed "prog arg arg…"); unknown programs are missing. */
function host(
  platform: NodeJS.Platform,
  env: Record<string, string>,
  script: Script,
  isWsl = false,
) {
  const calls: string[] = [];
  const h: ClipboardHost = {
    platform,
    env,
    isWsl,
    exec: async (cmd, args) => {
      const key = [cmd, ...args].join(' ');
      calls.push(key);
      return script[key] ?? { code: null, stdout: Buffer.alloc(0) };
    },
    readFile: async (f) => {
      if (f === '/tmp/shot.png') return PNG;
      throw new Error('ENOENT');
    },
  };
  return { h, calls };
}
const ok = (s: string | Buffer): ExecResult => ({
  code: 0,
  stdout: Buffer.isBuffer(s) ? s : Buffer.from(s),
});
const fail: ExecResult = { code: 1, stdout: Buffer.alloc(0) };

test('X11: xclip TARGETS then the image type', async () => {
  const { h, calls } = host(
    'linux',
    { DISPLAY: ':0' },
    {
      'xclip -selection clipboard -o -t TARGETS': ok('TARGETS\nimage/png\ntext/plain\n'),
      'xclip -selection clipboard -o -t image/png': ok(PNG),
    },
  );
  assert.deepEqual(await readClipboardImage(h), {
    kind: 'image',
    data: PNG,
    mime: 'image/png',
    tool: 'xclip',
  });
  assert.equal(calls.length, 2);
});

test('X11: text only is "no image"; an empty clipboard too', async () => {
  const text = host(
    'linux',
    { DISPLAY: ':0' },
    { 'xclip -selection clipboard -o -t TARGETS': ok('UTF8_STRING\n') },
  );
  assert.deepEqual(await readClipboardImage(text.h), { kind: 'no-image', tool: 'xclip' });
  const empty = host(
    'linux',
    { DISPLAY: ':0' },
    { 'xclip -selection clipboard -o -t TARGETS': fail },
  );
  assert.deepEqual(await readClipboardImage(empty.h), { kind: 'no-image', tool: 'xclip' });
});

test('X11: a copied image file', async () => {
  const { h } = host(
    'linux',
    { DISPLAY: ':0' },
    {
      'xclip -selection clipboard -o -t TARGETS': ok('text/uri-list\n'),
      'xclip -selection clipboard -o -t text/uri-list': ok('file:///tmp/shot.png\r\n'),
    },
  );
  assert.deepEqual(await readClipboardImage(h), {
    kind: 'image',
    data: PNG,
    mime: 'image/png',
    tool: 'xclip',
  });
});

test('Wayland is tried before X11 and accepts BMP', async () => {
  const { h, calls } = host(
    'linux',
    { DISPLAY: ':0', WAYLAND_DISPLAY: 'wayland-0' },
    {
      'wl-paste --list-types': ok('image/bmp\n'),
      'wl-paste --no-newline --type image/bmp': ok(PNG),
    },
  );
  assert.deepEqual(await readClipboardImage(h), {
    kind: 'image',
    data: PNG,
    mime: 'image/bmp',
    tool: 'wl-paste',
  });
  assert.ok(calls.every((c) => c.startsWith('wl-paste')));
});

test('Wayland without wl-paste falls back to xclip', async () => {
  const { h } = host(
    'linux',
    { DISPLAY: ':0', WAYLAND_DISPLAY: 'wayland-0' },
    {
      'xclip -selection clipboard -o -t TARGETS': ok('image/png\n'),
      'xclip -selection clipboard -o -t image/png': ok(PNG),
    },
  );
  assert.equal((await readClipboardImage(h)).kind, 'image');
});

test('no display, no tool: "no-tool" (a remote extension host)', async () => {
  const { h, calls } = host('linux', {}, {});
  assert.deepEqual(await readClipboardImage(h), { kind: 'no-tool', tried: ['wl-paste', 'xclip'] });
  assert.deepEqual(calls, []);
});

test('macOS: pngpaste, else osascript', async () => {
  const png = host('darwin', {}, { 'pngpaste -': ok(PNG) });
  assert.equal((await readClipboardImage(png.h)).kind, 'image');
  const osa = host(
    'darwin',
    {},
    {
      'osascript -e the clipboard as «class PNGf»': ok(
        `«data PNGf${PNG.toString('hex').toUpperCase()}»\n`,
      ),
    },
  );
  assert.deepEqual(await readClipboardImage(osa.h), {
    kind: 'image',
    data: PNG,
    mime: 'image/png',
    tool: 'osascript',
  });
  const none = host('darwin', {}, { 'osascript -e the clipboard as «class PNGf»': fail });
  assert.deepEqual(await readClipboardImage(none.h), { kind: 'no-image', tool: 'osascript' });
});

test('Windows and WSL: PowerShell 5.1 with -STA, base64 on stdout', async () => {
  const key = `powershell.exe -NoProfile -NonInteractive -STA -Command ${POWERSHELL_SCRIPT}`;
  const win = host('win32', {}, { [key]: ok(PNG.toString('base64') + '\r\n') });
  assert.deepEqual(await readClipboardImage(win.h), {
    kind: 'image',
    data: PNG,
    mime: 'image/png',
    tool: 'powershell.exe',
  });
  const wsl = host(
    'linux',
    { WAYLAND_DISPLAY: 'wayland-0' },
    { [key]: { code: 3, stdout: Buffer.alloc(0) } },
    true,
  );
  assert.deepEqual(await readClipboardImage(wsl.h), { kind: 'no-image', tool: 'powershell.exe' });
  assert.equal(wsl.calls.length, 1, 'Windows is asked first under WSL, and its answer stands');
});

test('helpers', () => {
  assert.equal(pickImageType(['text/plain', 'image/jpeg', 'image/png']), 'image/png');
  assert.equal(pickImageType(['image/webp']), 'image/webp');
  assert.equal(pickImageType(['STRING']), undefined);
  assert.equal(imageFileFromUriList('# comment\nfile:///a%20b/c.PNG'), '/a b/c.PNG');
  assert.equal(imageFileFromUriList('file:///a/notes.txt'), undefined);
  assert.equal(parseOsascriptData('«data PNGf0A0B»')?.toString('hex'), '0a0b');
  assert.equal(parseOsascriptData('missing value'), undefined);
});
