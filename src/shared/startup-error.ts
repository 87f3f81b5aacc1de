/**
 * An operator mistake found while starting (port taken, database unreachable, unreadable data
 * directory…). main.ts prints its message as one plain sentence, without a stack trace, and exits 1.
 */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartupError';
  }
}
