/** An ILIKE pattern matching `text` anywhere, literally: `%`, `_` and `\` in user text match themselves. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, '\\$&')}%`;
}
