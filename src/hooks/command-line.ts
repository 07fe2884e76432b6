// The runner hands a hook strings that it would otherwise have put on a
// process command line: a step's arguments (the script path, or a quoted
// JavaScript file for `node "/__w/_actions/.../index.js"`) and a container's
// `options:`. The runner splits arguments at every space before sending them,
// so a quoted path with a space arrives in pieces; joining them and splitting
// again the way .NET's Process does on Linux (the rules of Windows'
// CommandLineToArgvW) gives back the argv the runner meant, without needing
// a shell in the job's image.

/** Splits `line` into arguments: whitespace separates, double quotes group, backslashes escape only quotes. */
export function splitCommandLine(line: string): string[] {
  const args: string[] = [];
  let current = '';
  let inArg = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\') {
      let n = 0;
      while (line[i + n] === '\\') n++;
      if (line[i + n] === '"') {
        current += '\\'.repeat(Math.floor(n / 2));
        if (n % 2 === 1) current += '"';
        else quoted = !quoted;
        i += n;
      } else {
        current += '\\'.repeat(n);
        i += n - 1;
      }
      inArg = true;
    } else if (c === '"') {
      // Inside quotes, "" is a literal quote (as .NET reads it).
      if (quoted && line[i + 1] === '"') {
        current += '"';
        i++;
      } else quoted = !quoted;
      inArg = true;
    } else if (!quoted && (c === ' ' || c === '\t' || c === '\n' || c === '\r')) {
      if (inArg) args.push(current);
      current = '';
      inArg = false;
    } else {
      current += c;
      inArg = true;
    }
  }
  if (inArg) args.push(current);
  return args;
}

/** A step's argv from the runner's entryPoint and its space-split entryPointArgs. */
export function stepArgv(entryPoint: string, entryPointArgs: readonly string[]): string[] {
  return [entryPoint, ...splitCommandLine(entryPointArgs.join(' '))];
}
