/** The CLI. Commands arrive with the CLI issue (#6). */
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('vmstep: the command line is not built yet (see issue #6); only the project foundation exists so far\n');
  return 125;
}
