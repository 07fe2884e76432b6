// Shell-style words without a shell: the action's `args` input is written the
// way people write a command line (quotes group, backslashes escape), but
// nothing is expanded: no variables, globs or substitutions, so what the
// workflow says is exactly what the command gets. And the reverse, for
// showing an argv to a person. (@actions/exec's argStringToArray is not the
// same language: it knows double quotes only, so 'single quoted words' and a
// backslash outside quotes would change meaning; it is not a dependency.)
import { VmstepError } from './errors.js';

export function splitShellWords(text: string, what: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1]!)) word += text[++i] === '\n' ? '' : text[i];
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      const next = text[++i]!;
      if (next !== '\n') {
        word += next;
        inWord = true;
      }
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new VmstepError(`${what} has an unclosed ${quote === '"' ? 'double' : 'single'} quote`, `close the quote, or escape it with a backslash`);
  if (inWord) words.push(word);
  return words;
}

/** An argv as a person would type it: sh -c 'echo "hi"' */
export function shellQuote(argv: string[]): string {
  return argv.map((a) => (a !== '' && /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
