/**
 * Owns the LanguageClient that runs `texpaste serve`: start, stop, restart, settings, requests.
 *
 * The client auto-registers a VS Code command for each id in the server's
 * `executeCommandProvider` (`texpaste.insertFormula*`), so the extension never registers those
 * ids itself and calls them with `workspace/executeCommand`.
 */

import * as os from 'node:os';
import * as vscode from 'vscode';
import {
  type CancellationToken,
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  RevealOutputChannelOn,
  type ServerOptions,
  State,
} from 'vscode-languageclient/node';
import { LANGUAGES, SECTION, Server } from './constants';
import { showError } from './notify';
import type { StatusResult } from './protocol';
import { launchProbes } from './python';
import { resolveLaunch } from './serverLaunch';
import {
  type InitializationOptions,
  type Substitutions,
  type TexpasteSettings,
  needsRestart,
  readSettings,
  substitute,
  toInitializationOptions,
} from './settings';
import { ModelOfferer } from './offer';
import type { StatusItem } from './status';

/** Reads the current `texpaste.*` settings from VS Code. */
export function currentSettings(): TexpasteSettings {
  const config = vscode.workspace.getConfiguration(SECTION);
  return readSettings((key) => config.get(key));
}

function substitutions(): Substitutions {
  return {
    workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
    userHome: os.homedir(),
    env: process.env,
  };
}

/** Resolves when `client` is running again, rejects if it stops instead. */
function whenRunning(client: LanguageClient): Promise<LanguageClient> {
  return new Promise((resolve, reject) => {
    const subscription = client.onDidChangeState((event) => {
      if (event.newState === State.Running) resolve(client);
      else if (event.newState === State.Stopped) reject(new Error('The server stopped.'));
      else return;
      subscription.dispose();
    });
  });
}

/** Tells the user the server did not start, with a way to the settings that fix it. */
export function reportStartFailure(error: unknown): void {
  showError(error instanceof Error ? error.message : String(error), {
    title: 'Open Settings',
    run: () =>
      void vscode.commands.executeCommand('workbench.action.openSettings', 'texpaste.server'),
  });
}

export class ServerClient implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private starting: Promise<LanguageClient> | undefined;
  private settings: TexpasteSettings = currentSettings();
  private poll: NodeJS.Timeout | undefined;
  private disposed = false;
  readonly offerer = new ModelOfferer((command, args) => this.executeCommand(command, args));

  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly status: StatusItem,
  ) {}

  /** The running client, starting it first if needed; rejects with a sentence when it cannot start. */
  ready(): Promise<LanguageClient> {
    const client = this.client;
    if (client?.state === State.Running) return Promise.resolve(client);
    // Restarting by itself after a crash (vscode-languageclient's error handler): wait for it.
    if (client?.state === State.Starting) return whenRunning(client);
    if (client) {
      // Stopped for good (it gave up restarting): start a fresh one.
      this.client = undefined;
      void client.dispose().catch(() => undefined);
    }
    this.starting ??= this.create().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private options(): InitializationOptions {
    return toInitializationOptions(this.settings, substitutions());
  }

  private async create(): Promise<LanguageClient> {
    this.status.set('starting');
    const subs = substitutions();
    const server = this.settings.server;
    let launch;
    try {
      launch = await resolveLaunch(
        {
          path: server.path && substitute(server.path, subs),
          interpreter: server.interpreter && substitute(server.interpreter, subs),
          extraArgs: server.extraArgs,
        },
        launchProbes,
      );
    } catch (error) {
      return this.failed(error);
    }
    this.log.info(`Starting ${launch.command} ${launch.args.join(' ')} (from ${launch.source})`);
    // No `transport`: TransportKind.stdio would append `--stdio`, which `texpaste serve` rejects.
    const serverOptions: ServerOptions = { command: launch.command, args: launch.args };
    const clientOptions: LanguageClientOptions = {
      documentSelector: LANGUAGES.map((language) => ({ language })),
      initializationOptions: this.options(),
      outputChannel: this.log,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      middleware: {
        workspace: {
          // Answer a `workspace/configuration` pull with the same normalised settings.
          configuration: async (params, token, next) => {
            const answers = await next(params, token);
            if (!Array.isArray(answers)) return answers;
            return params.items.map((item, i) =>
              item.section === SECTION ? this.options() : answers[i],
            );
          },
        },
      },
    };
    const client = new LanguageClient('texpaste', 'TeXPaste', serverOptions, clientOptions);
    client.onDidChangeState((event) => {
      if (event.newState === State.Stopped && this.client === client && !this.disposed) {
        this.status.set('stopped');
      }
    });
    try {
      await client.start();
    } catch (error) {
      void client.dispose().catch(() => undefined);
      return this.failed(error);
    }
    this.client = client;
    void this.refreshStatus();
    return client;
  }

  private failed(error: unknown): never {
    const message = error instanceof Error ? error.message : String(error);
    this.log.error(`The server could not start: ${message}`);
    this.status.set('error', message);
    throw new Error(`The server could not start: ${message}`);
  }

  /** Stops the server (if any) and starts a fresh one with the current settings. */
  async restart(): Promise<void> {
    await this.stop();
    this.settings = currentSettings();
    await this.ready().catch(reportStartFailure);
  }

  /** Stops the server; deactivate() awaits this so no server process outlives the window. */
  async stop(): Promise<void> {
    clearTimeout(this.poll);
    const client = this.client;
    this.client = undefined;
    if (this.starting) await this.starting.catch(() => undefined);
    if (client) {
      try {
        await client.stop(5000);
      } catch (error) {
        this.log.warn(`Stopping the server: ${String(error)}`);
      }
      await client.dispose().catch(() => undefined);
    }
  }

  /** Sends changed settings, or restarts when the launch command changed. */
  async settingsChanged(): Promise<void> {
    const before = this.settings;
    const after = currentSettings();
    this.settings = after;
    if (needsRestart(before, after)) {
      await this.restart();
    } else if (this.client?.state === State.Running) {
      await this.client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: { [SECTION]: this.options() },
      });
    }
  }

  /** A custom request (`texpaste/recognize`, `texpaste/status`). */
  async request<R>(method: string, params: unknown, token?: CancellationToken): Promise<R> {
    const client = await this.ready();
    return token
      ? client.sendRequest<R>(method, params, token)
      : client.sendRequest<R>(method, params);
  }

  /** A server command through `workspace/executeCommand`. */
  async executeCommand<R>(command: string, args: unknown, token?: CancellationToken): Promise<R> {
    const client = await this.ready();
    const params = { command, arguments: [args] };
    return (await client.sendRequest(ExecuteCommandRequest.type, params, token)) as R;
  }

  /** Writes one line to the TeXPaste log. */
  logInfo(message: string): void {
    this.log.info(message);
  }

  /** Shows a recognition in progress; afterwards the server's state again. */
  busy(on: boolean): void {
    if (on) this.status.set('busy');
    else void this.refreshStatus();
  }

  /** Asks the server for its state and shows it; polls while the model loads. */
  async refreshStatus(): Promise<void> {
    clearTimeout(this.poll);
    const client = this.client;
    if (!client || client.state !== State.Running) return;
    try {
      // `{}` rather than no params: pygls fails on a custom request without `params`.
      const status = await client.sendRequest<StatusResult>(Server.status, {});
      this.status.fromServer(status);
      if (status.offer)
        this.log.info(`${status.offer.model} can be downloaded (${status.model} answers)`);
      void this.offerer.maybeOffer(status.offer, status.model); // once per window, loaded or not
      if (status.state === 'loading' && !this.disposed) {
        this.poll = setTimeout(() => void this.refreshStatus(), 1000);
      }
    } catch (error) {
      this.log.warn(`texpaste/status failed: ${String(error)}`);
      this.status.set('ready');
    }
  }

  dispose(): void {
    this.disposed = true;
    void this.stop();
  }
}
