import { readFileSync } from 'node:fs';

/** What a setting's schema offers to the usage text: parsing "unset" gives its default, or fails. */
export interface SettingSchema {
  safeParse(value: unknown): { success: boolean; data?: unknown };
}

/** One app's command line: its commands, flags and settings, for parsing and for `--help`. */
export interface CommandLineSpec {
  /** The name it is run by, as the usage shows it. */
  name: string;
  summary: string;
  version: string;
  /** Commands other than the default (none: the daemon), with their one argument if any. */
  commands?: Record<string, { argument?: string; summary: string }>;
  /** Flags, with the name of their value when they take one. */
  flags?: Record<string, { value?: string; summary: string }>;
  /** The app's settings schema's shape: names and defaults are read from it, never copied. */
  settings: Record<string, SettingSchema>;
}

export interface CommandLine {
  command: string | undefined;
  argument: string | undefined;
  flags: Map<string, string | true>;
}

/** A command line the app does not understand: printed with the usage line, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type CommandLineOutcome =
  | { kind: 'run'; commandLine: CommandLine }
  | { kind: 'print'; text: string };

const HELP = new Set(['--help', '-h']);

/** Parses argv (without node and the script); `--help` and `--version` are answered here. */
export function parseCommandLine(
  argv: readonly string[],
  spec: CommandLineSpec,
): CommandLineOutcome {
  if (argv.some((a) => HELP.has(a))) return { kind: 'print', text: usage(spec) };
  if (argv.includes('--version')) return { kind: 'print', text: `${spec.name} ${spec.version}\n` };
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('-')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.split('=', 2) as [string, string | undefined];
    const flag = spec.flags?.[name];
    if (flag === undefined) throw new UsageError(`unknown flag ${name}`);
    if (flag.value === undefined) {
      if (inline !== undefined) throw new UsageError(`${name} takes no value`);
      flags.set(name, true);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`${name} needs ${flag.value}`);
    flags.set(name, value);
  }
  const [command, argument, ...rest] = positional;
  if (command === undefined) return { kind: 'run', commandLine: { command, argument, flags } };
  const known = spec.commands?.[command];
  if (known === undefined) throw new UsageError(`unknown command ${command}`);
  if (known.argument !== undefined && argument === undefined) {
    throw new UsageError(`${command} needs ${known.argument}`);
  }
  if (rest.length > 0 || (known.argument === undefined && argument !== undefined)) {
    throw new UsageError(`too many arguments to ${command}`);
  }
  return { kind: 'run', commandLine: { command, argument, flags } };
}

/** The one-line synopsis a refused command line is answered with. */
export function usageLine(spec: CommandLineSpec): string {
  const commands = Object.entries(spec.commands ?? {}).map(
    ([name, c]) => `${name}${c.argument === undefined ? '' : ` ${c.argument}`}`,
  );
  const command = commands.length === 0 ? '' : ` [${commands.join(' | ')}]`;
  return `usage: ${spec.name}${command} [flags] (--help for the flags and settings)`;
}

/** `--help`: commands, flags, and every setting with its default, from the schema. */
export function usage(spec: CommandLineSpec): string {
  const rows = (entries: Array<[string, string]>): string[] => {
    const width = Math.max(0, ...entries.map(([left]) => left.length)) + 2;
    return entries.map(([left, right]) => `  ${left.padEnd(width)}${right}`);
  };
  const lines = [`${spec.name} ${spec.version}: ${spec.summary}`, '', usageLine(spec), ''];
  const commands = Object.entries(spec.commands ?? {});
  if (commands.length > 0) {
    lines.push(
      'Commands:',
      ...rows(commands.map(([n, c]) => [`${n}${c.argument ? ` ${c.argument}` : ''}`, c.summary])),
      '',
    );
  }
  const flags: Array<[string, string]> = Object.entries(spec.flags ?? {}).map(([n, f]) => [
    `${n}${f.value ? ` ${f.value}` : ''}`,
    f.summary,
  ]);
  flags.push(['--help, -h', 'print this and exit'], ['--version', 'print the version and exit']);
  lines.push('Flags:', ...rows(flags), '');
  lines.push(
    'Settings (environment variables; an empty one counts as unset):',
    ...rows(Object.entries(spec.settings).map(([name, schema]) => [name, defaultOf(schema)])),
    '',
  );
  return `${lines.join('\n')}`;
}

function defaultOf(schema: SettingSchema): string {
  const unset = schema.safeParse(undefined);
  if (!unset.success) return '(required)';
  if (unset.data === undefined) return '(unset)';
  const value = unset.data;
  return `default ${typeof value === 'string' ? value : JSON.stringify(value)}`;
}

/** The version in the package.json beside an app's dist/ (its main module's URL). */
export function packageVersion(mainUrl: string): string {
  const file = new URL('../package.json', mainUrl);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}
