/** What the command-line tools (`skyvault storage`, `backup`…) print to, and words they share. */

/** Where a command prints, and the environment it reads its settings from (tests pass their own). */
export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** `1 object`, `2 objects`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
