// One parser for the options whose value is one of a few names that users
// spell several ways (test, correction, metrics-format): trimmed, any case,
// and an error that names every valid choice once.

/** The choice `text` names through `aliases` (keys in lower case); throws naming the valid ones. */
export function parseChoice<T extends string>(what: string, text: string, aliases: Readonly<Record<string, T>>, choices: readonly T[]): T {
  const key = text.trim().toLowerCase();
  // Own keys only: a plain object also answers "constructor" or "toString".
  if (!Object.hasOwn(aliases, key)) throw new Error(`unknown ${what} ${JSON.stringify(text)}: use one of ${choices.join(', ')}`);
  return aliases[key]!;
}
