/**
 * The better model, when it can be had: when the bundled model answers because pix2tex is not cached,
 * offer once per window to download it (the server fetches and verifies it under `$/progress`, which
 * VS Code shows, and uses it from the next paste); "Never" is remembered by the server on this machine.
 */

import * as vscode from 'vscode';
import { Server } from './constants';
import { describeFailure } from './errors';
import { showError, showInfo } from './notify';
import type { ModelOffer } from './protocol';

type Run = <R>(command: string, args: unknown) => Promise<R>;

export const DOWNLOAD = 'Download';
export const NOT_NOW = 'Not now';
export const NEVER = 'Never';

/** The notification's text and buttons for `offer`. */
export function offerMessage(
  offer: ModelOffer,
  answering?: string,
): { text: string; buttons: string[] } {
  const size = `~${offer.megabytes} MB`;
  return {
    text: `TeXPaste is using ${answering ?? 'its small bundled model'}. Download the more accurate ${offer.model} model (${size})? It works offline afterwards.`,
    buttons: [`${DOWNLOAD} (${size})`, NOT_NOW, NEVER],
  };
}

export class ModelOfferer {
  private asked = false;
  /** The text of the offer shown in this window, if any (the end-to-end tests read it). */
  shown: string | undefined;

  constructor(private readonly run: Run) {}

  /** Offers `offer` once per window; resolves to what the user chose (undefined: nothing shown). */
  async maybeOffer(offer: ModelOffer | undefined, answering?: string): Promise<string | undefined> {
    if (!offer || this.asked) return undefined;
    this.asked = true;
    const { text, buttons } = offerMessage(offer, answering);
    this.shown = text;
    const choice = await vscode.window.showInformationMessage(text, ...buttons);
    if (choice?.startsWith(DOWNLOAD)) {
      try {
        await this.run(Server.downloadModel, { model: offer.model });
        showInfo(`${offer.model} is ready: TeXPaste uses it from the next paste.`);
      } catch (error) {
        showError(describeFailure(error).message);
      }
    } else if (choice === NEVER) {
      await this.run(Server.declineModelOffer, { model: offer.model }).catch(() => undefined);
    }
    return choice;
  }
}
