/** Turns a failed request into one sentence for the user. vscode-free. */

/** JSON-RPC codes from docs/protocol.md "Errors". */
export const ErrorCodes = {
  invalidParams: -32602,
  requestFailed: -32803,
  requestCancelled: -32800,
} as const;

export interface Failure {
  /** `data.kind` from the server (`clipboard`, `no-formula`, …), else a client-side kind. */
  kind: string;
  message: string;
  cancelled: boolean;
  /** For `conflict`: the formula that could not be inserted, for the user to copy instead. */
  text?: string;
}

interface ResponseErrorLike {
  code?: unknown;
  message?: unknown;
  data?: unknown;
  name?: unknown;
}

/** Describes any rejection of a LanguageClient request (ResponseError, CancellationError, Error). */
export function describeFailure(error: unknown): Failure {
  const e = (typeof error === 'object' && error !== null ? error : {}) as ResponseErrorLike;
  const data = (typeof e.data === 'object' && e.data !== null ? e.data : {}) as {
    kind?: unknown;
    text?: unknown;
  };
  const kind = typeof data.kind === 'string' ? data.kind : 'error';
  const raw = typeof e.message === 'string' ? e.message : String(error);
  const cancelled =
    e.code === ErrorCodes.requestCancelled || kind === 'cancelled' || e.name === 'Canceled';
  const failure: Failure = { kind, message: sentence(raw), cancelled };
  if (typeof data.text === 'string' && data.text) failure.text = data.text;
  return failure;
}

/** One trimmed sentence ending with a full stop. */
export function sentence(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, ' ') || 'Unknown error';
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}
