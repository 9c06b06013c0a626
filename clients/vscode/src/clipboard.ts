/**
 * Reads an image from the OS clipboard of the machine the extension host runs on, with the
 * per-OS tools of README, "Editors". vscode-free: processes run through an injected `exec`.
 */

export interface ExecResult {
  /** Exit code; null when the process could not be started or was killed. */
  code: number | null;
  stdout: Buffer;
}

/** Runs a program without a shell; resolves (never rejects), code null when it failed to start. */
export type Exec = (command: string, args: string[]) => Promise<ExecResult>;

export interface ClipboardHost {
  platform: NodeJS.Platform;
  env: Record<string, string | undefined>;
  /** Windows Subsystem for Linux (read the Windows clipboard through powershell.exe). */
  isWsl: boolean;
  exec: Exec;
  readFile(file: string): Promise<Buffer>;
}

export type ClipboardImage =
  | { kind: 'image'; data: Buffer; mime: string; tool: string }
  /** A tool ran but the clipboard holds no image. */
  | { kind: 'no-image'; tool: string }
  /** No clipboard tool works here (none installed, no display, a remote host). */
  | { kind: 'no-tool'; tried: string[] };

/** Image types the server decodes, most preferred first. */
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/bmp'] as const;

const IMAGE_FILE = /\.(png|jpe?g|bmp|gif|webp|tiff?)$/i;

/** The first image type among `offered` (a TARGETS / --list-types listing), if any. */
export function pickImageType(offered: readonly string[]): string | undefined {
  const set = new Set(offered.map((t) => t.trim().toLowerCase()));
  return (
    IMAGE_TYPES.find((t) => set.has(t)) ??
    offered.map((t) => t.trim()).find((t) => /^image\//i.test(t))
  );
}

/** The local path of the first image file in a `text/uri-list` (a copied file), if any. */
export function imageFileFromUriList(uriList: string): string | undefined {
  for (const line of uriList.split(/\r?\n/)) {
    const uri = line.trim();
    if (!uri.startsWith('file://') || !IMAGE_FILE.test(uri)) continue;
    try {
      return decodeURIComponent(new URL(uri).pathname);
    } catch {
      continue;
    }
  }
  return undefined;
}

/** PNG bytes from osascript's `«data PNGf89504E47…»` rendering of the clipboard. */
export function parseOsascriptData(stdout: string): Buffer | undefined {
  const match = /«data (?:PNGf|TIFF|JPEG)([0-9A-Fa-f]+)»/.exec(stdout);
  return match ? Buffer.from(match[1]!, 'hex') : undefined;
}

/**
 * PowerShell 5.1 script: the clipboard image as base64 PNG on stdout, exit 3 when there is none.
 * (PowerShell 7's Get-Clipboard is text-only, and WinForms needs -STA.)
 */
export const POWERSHELL_SCRIPT = [
  'Add-Type -AssemblyName System.Windows.Forms',
  'Add-Type -AssemblyName System.Drawing',
  '$img = [System.Windows.Forms.Clipboard]::GetImage()',
  'if ($img -eq $null) { exit 3 }',
  '$ms = New-Object System.IO.MemoryStream',
  '$img.Save($ms, [System.Drawing.Imaging.ImageFormat]::Png)',
  '[Console]::Out.Write([Convert]::ToBase64String($ms.ToArray()))',
].join('; ');

type Reader = (host: ClipboardHost) => Promise<ClipboardImage | undefined>;

async function readWithFile(
  host: ClipboardHost,
  tool: string,
  uriList: Buffer,
): Promise<ClipboardImage> {
  const file = imageFileFromUriList(uriList.toString('utf8'));
  if (!file) return { kind: 'no-image', tool };
  try {
    const data = await host.readFile(file);
    const ext = file.split('.').pop()!.toLowerCase();
    const mime = ext === 'jpg' ? 'image/jpeg' : `image/${ext}`;
    return { kind: 'image', data, mime, tool };
  } catch {
    return { kind: 'no-image', tool };
  }
}

const wlPaste: Reader = async (host) => {
  if (!host.env.WAYLAND_DISPLAY) return undefined;
  const list = await host.exec('wl-paste', ['--list-types']);
  if (list.code === null) return undefined;
  const types = list.code === 0 ? list.stdout.toString('utf8').split(/\r?\n/) : [];
  const type = pickImageType(types);
  if (!type) {
    if (types.includes('text/uri-list')) {
      const uris = await host.exec('wl-paste', ['--no-newline', '--type', 'text/uri-list']);
      return readWithFile(host, 'wl-paste', uris.stdout);
    }
    return { kind: 'no-image', tool: 'wl-paste' };
  }
  const out = await host.exec('wl-paste', ['--no-newline', '--type', type]);
  return out.code === 0 && out.stdout.length > 0
    ? { kind: 'image', data: out.stdout, mime: type, tool: 'wl-paste' }
    : { kind: 'no-image', tool: 'wl-paste' };
};

const xclip: Reader = async (host) => {
  if (!host.env.DISPLAY) return undefined;
  const base = ['-selection', 'clipboard', '-o'];
  const list = await host.exec('xclip', [...base, '-t', 'TARGETS']);
  if (list.code === null) return undefined;
  const types = list.code === 0 ? list.stdout.toString('utf8').split(/\r?\n/) : [];
  const type = pickImageType(types);
  if (!type) {
    if (types.includes('text/uri-list')) {
      const uris = await host.exec('xclip', [...base, '-t', 'text/uri-list']);
      return readWithFile(host, 'xclip', uris.stdout);
    }
    return { kind: 'no-image', tool: 'xclip' };
  }
  const out = await host.exec('xclip', [...base, '-t', type]);
  return out.code === 0 && out.stdout.length > 0
    ? { kind: 'image', data: out.stdout, mime: type, tool: 'xclip' }
    : { kind: 'no-image', tool: 'xclip' };
};

const pngpaste: Reader = async (host) => {
  const out = await host.exec('pngpaste', ['-']);
  if (out.code === null) return undefined;
  return out.code === 0 && out.stdout.length > 0
    ? { kind: 'image', data: out.stdout, mime: 'image/png', tool: 'pngpaste' }
    : { kind: 'no-image', tool: 'pngpaste' };
};

const osascript: Reader = async (host) => {
  const out = await host.exec('osascript', ['-e', 'the clipboard as «class PNGf»']);
  if (out.code === null) return undefined;
  const data = out.code === 0 ? parseOsascriptData(out.stdout.toString('utf8')) : undefined;
  return data && data.length > 0
    ? { kind: 'image', data, mime: 'image/png', tool: 'osascript' }
    : { kind: 'no-image', tool: 'osascript' };
};

const powershell: Reader = async (host) => {
  const out = await host.exec('powershell.exe', [
    '-NoProfile',
    '-NonInteractive',
    '-STA',
    '-Command',
    POWERSHELL_SCRIPT,
  ]);
  if (out.code === null) return undefined;
  const data =
    out.code === 0 ? Buffer.from(out.stdout.toString('ascii').trim(), 'base64') : undefined;
  return data && data.length > 0
    ? { kind: 'image', data, mime: 'image/png', tool: 'powershell.exe' }
    : { kind: 'no-image', tool: 'powershell.exe' };
};

/** The readers to try, in order, for this host (Wayland before X11: XWayland also sets DISPLAY). */
export function readersFor(host: Pick<ClipboardHost, 'platform' | 'isWsl'>): [string, Reader][] {
  if (host.platform === 'win32') return [['powershell.exe', powershell]];
  if (host.platform === 'darwin') {
    return [
      ['pngpaste', pngpaste],
      ['osascript', osascript],
    ];
  }
  const linux: [string, Reader][] = [
    ['wl-paste', wlPaste],
    ['xclip', xclip],
  ];
  // Under WSLg Wayland offers Windows images only as BMP: ask Windows first.
  return host.isWsl ? [['powershell.exe', powershell], ...linux] : linux;
}

/** Reads the clipboard image with the first tool that works on this host. */
export async function readClipboardImage(host: ClipboardHost): Promise<ClipboardImage> {
  const tried: string[] = [];
  for (const [name, reader] of readersFor(host)) {
    tried.push(name);
    const result = await reader(host);
    if (result) return result;
  }
  return { kind: 'no-tool', tried };
}
