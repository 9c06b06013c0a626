/** Delimiter invariants of wrapped formulas (README "Wrapping"), shared by the wire and e2e tests. */

export type Family = 'markdown' | 'tex';

/**
 * How `text` wraps `latex`: 'inline' (`$…$` / `\(…\)`, no inner padding) or 'display'
 * (`$$` / `\[` lines), or undefined when it is neither. Newlines that put a display block on its
 * own lines and a space after an inline formula (before a digit) are allowed around it.
 */
export function wrapping(
  text: string,
  latex: string,
  family: Family,
): 'inline' | 'display' | undefined {
  const core = text.replace(/^\n+/, '').replace(/[\n ]+$/, '');
  const [inlineOpen, inlineClose, displayOpen, displayClose] =
    family === 'markdown' ? ['$', '$', '$$', '$$'] : ['\\(', '\\)', '\\[', '\\]'];
  if (core === `${displayOpen}\n${latex}\n${displayClose}`) return 'display';
  // TeX display math with top-level line breaks goes into an environment (aligned when it has &)
  for (const env of ['gathered', 'aligned']) {
    const body = `\\begin{${env}}\n${latex}\n\\end{${env}}`;
    if (family === 'tex' && core === `${displayOpen}\n${body}\n${displayClose}`) return 'display';
  }
  if (core === `${inlineOpen}${latex}${inlineClose}`) return 'inline';
  return undefined;
}
