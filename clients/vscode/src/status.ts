/** The status bar item: starting / loading / ready / busy / error; a click shows the logs. */

import * as vscode from 'vscode';
import { Commands, LANGUAGES } from './constants';
import type { StatusResult } from './protocol';

export type ServerState = 'starting' | 'loading' | 'ready' | 'busy' | 'error' | 'stopped';

const LOOK: Record<ServerState, { icon: string; tip: string }> = {
  starting: { icon: '$(sync~spin)', tip: 'Starting the server…' },
  loading: { icon: '$(sync~spin)', tip: 'Loading the model…' },
  ready: {
    icon: '$(check)',
    tip: 'Ready: TeXPaste: Paste Formula (Ctrl+Alt+V), or Ctrl+V → Paste as LaTeX formula',
  },
  busy: { icon: '$(sync~spin)', tip: 'Recognising…' },
  error: { icon: '$(error)', tip: 'Error' },
  stopped: { icon: '$(circle-slash)', tip: 'Stopped' },
};

export class StatusItem implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly subscription: vscode.Disposable;
  private state: ServerState = 'starting';
  /** The model answering and its device, e.g. `texpaste-small (cpu)`, once the server said. */
  private model = '';

  constructor() {
    this.item = vscode.window.createStatusBarItem(
      'texpaste.status',
      vscode.StatusBarAlignment.Right,
      100,
    );
    this.item.name = 'TeXPaste';
    this.item.command = Commands.showLogs;
    this.subscription = vscode.window.onDidChangeActiveTextEditor(() => this.updateVisibility());
    this.set('starting');
  }

  get current(): ServerState {
    return this.state;
  }

  /** Shows `state`; `detail` (an error, the model) goes into the tooltip. */
  set(state: ServerState, detail?: string): void {
    this.state = state;
    const look = LOOK[state];
    this.item.text = `${look.icon} TeXPaste${this.model ? `: ${this.model}` : ''}`;
    this.item.tooltip = `TeXPaste: ${detail ? `${look.tip} ${detail}` : look.tip}`;
    this.item.backgroundColor =
      state === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    this.updateVisibility();
  }

  /** Maps a `texpaste/status` answer onto the item. */
  fromServer(status: StatusResult): void {
    const name = status.model?.split(/[\\/]/).filter(Boolean).pop();
    this.model = name ? `${name}${status.device ? ` (${status.device})` : ''}` : '';
    const model = status.model
      ? `(${status.model}${status.device ? ` on ${status.device}` : ''})`
      : '';
    if (status.state === 'error') this.set('error', status.error ?? model);
    else if (status.state === 'loading') this.set('loading', model);
    else this.set('ready', model);
  }

  private updateVisibility(): void {
    const language = vscode.window.activeTextEditor?.document.languageId;
    if (this.state === 'error' || (language !== undefined && LANGUAGES.includes(language))) {
      this.item.show();
    } else {
      this.item.hide();
    }
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}
