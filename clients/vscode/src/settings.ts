/**
 * Typed `texpaste.*` settings and their translation into the server's initializationOptions
 * (docs/protocol.md "Settings"). vscode-free: the caller passes a getter over the configuration.
 */

export type Mode = 'auto' | 'inline' | 'display' | 'raw';

export interface Delimiters {
  markdown: { inline: 'dollar' | 'paren'; display: 'dollars' | 'mathFence' | 'brackets' };
  tex: { inline: 'paren' | 'dollar'; display: 'brackets' | 'equation' | 'equation*' | 'dollars' };
  other: 'raw' | 'markdown';
}

export interface ServerSettings {
  /** Path to the `texpaste` executable ('' = resolve). */
  path: string;
  /** Python interpreter to run `-m texpaste serve` with ('' = resolve). */
  interpreter: string;
  extraArgs: string[];
}

export interface TexpasteSettings {
  server: ServerSettings;
  /** '' = the server's default model. */
  model: string;
  /** 'auto' = the server's choice. */
  device: 'auto' | 'cpu' | 'cuda' | 'mps';
  mode: Mode;
  candidates: number;
  delimiters: Delimiters;
  keepImageLink: boolean;
}

/** What the server receives at `initialize` and in `workspace/didChangeConfiguration`. */
export interface InitializationOptions {
  model?: string;
  device?: string;
  mode: Mode;
  candidates: number;
  delimiters: Delimiters;
  keepImageLink: boolean;
  /** The extension shows its own error messages (with "Show Logs"). */
  showErrors: false;
}

/** Reads one key below `texpaste.` (e.g. `delimiters.tex.inline`); undefined when unset. */
export type SettingGetter = (key: string) => unknown;

/** Values substituted in path settings: `${workspaceFolder}`, `${userHome}`, `${env:NAME}`. */
export interface Substitutions {
  workspaceFolder?: string;
  userHome: string;
  env: Record<string, string | undefined>;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
  return typeof value === 'string' && (allowed as readonly string[]).includes(value)
    ? (value as T)
    : fallback;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

/** Reads and validates every setting, falling back to the defaults of package.json. */
export function readSettings(get: SettingGetter): TexpasteSettings {
  const extraArgs = get('server.extraArgs');
  const candidates = Number(get('candidates'));
  return {
    server: {
      path: str(get('server.path')),
      interpreter: str(get('server.interpreter')),
      extraArgs: Array.isArray(extraArgs) ? extraArgs.filter((a) => typeof a === 'string') : [],
    },
    model: str(get('model')),
    device: oneOf(get('device'), ['auto', 'cpu', 'cuda', 'mps'], 'auto'),
    mode: oneOf(get('mode'), ['auto', 'inline', 'display', 'raw'], 'auto'),
    candidates: Number.isInteger(candidates) && candidates >= 1 ? Math.min(candidates, 16) : 5,
    delimiters: {
      markdown: {
        inline: oneOf(get('delimiters.markdown.inline'), ['dollar', 'paren'], 'dollar'),
        display: oneOf(
          get('delimiters.markdown.display'),
          ['dollars', 'mathFence', 'brackets'],
          'dollars',
        ),
      },
      tex: {
        inline: oneOf(get('delimiters.tex.inline'), ['paren', 'dollar'], 'paren'),
        display: oneOf(
          get('delimiters.tex.display'),
          ['brackets', 'equation', 'equation*', 'dollars'],
          'brackets',
        ),
      },
      other: oneOf(get('delimiters.other'), ['raw', 'markdown'], 'raw'),
    },
    keepImageLink: get('keepImageLink') === true,
  };
}

/** Expands `${workspaceFolder}`, `${userHome}`, `${env:NAME}` and a leading `~`. */
export function substitute(value: string, subs: Substitutions): string {
  const expanded = value.replace(
    /\$\{(workspaceFolder|userHome|env:([^}]+))\}/g,
    (m, name, env) => {
      if (env !== undefined) return subs.env[env] ?? '';
      if (name === 'userHome') return subs.userHome;
      return subs.workspaceFolder ?? m;
    },
  );
  return expanded === '~' || expanded.startsWith('~/')
    ? subs.userHome + expanded.slice(1)
    : expanded;
}

/** The server's view of the settings; defaults ('' model, 'auto' device) are left to the server. */
export function toInitializationOptions(
  s: TexpasteSettings,
  subs: Substitutions,
): InitializationOptions {
  const options: InitializationOptions = {
    mode: s.mode,
    candidates: s.candidates,
    delimiters: s.delimiters,
    keepImageLink: s.keepImageLink,
    showErrors: false,
  };
  if (s.model) options.model = substitute(s.model, subs);
  if (s.device !== 'auto') options.device = s.device;
  return options;
}

/**
 * Whether a settings change needs a server restart rather than `didChangeConfiguration`: the
 * launch command changed, or a key returned to its default (omitted keys keep their old value
 * on the server).
 */
export function needsRestart(before: TexpasteSettings, after: TexpasteSettings): boolean {
  const server = JSON.stringify(before.server) !== JSON.stringify(after.server);
  const modelCleared = before.model !== '' && after.model === '';
  const deviceCleared = before.device !== 'auto' && after.device === 'auto';
  return server || modelCleared || deviceCleared;
}
